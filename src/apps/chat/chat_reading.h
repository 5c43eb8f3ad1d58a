// The CHAT reading (FORMAT.md §6, reference nearbytes-chat): the hub's
// timeline of messages, ordered by (publishedAt, event hash).
//
// A message is an APP_RECORD signed (as every event) by the hub key:
//
//   {"type":"APP_RECORD","protocol":"nb.chat.message.v1","record":"<JSON>",
//    "authorPublicKey":<hub id>,"publishedAt":MS}
//
// record = canonical JSON (apps/canonical_json.h) of
//   {"a":<identity id>?,"as":<b64url>?,"body":B,"k":<hub id>,
//    "p":"nb.chat.message.v1","sig":<b64url>,"ts":MS}
//
// Signatures (ECDSA P-256, 64-byte r||s, b64url):
// - sig, by the hub key k, over the canonical JSON of {body,k,p,ts}. This is
//   what the reference signs and what its reader (verifyChatMessage) rebuilds
//   and checks: it ignores any other field, so a sig over a record with a/as
//   in it would fail there. We therefore keep a/as outside sig; readers also
//   accept a sig over the whole record without sig (the literal reading of
//   FORMAT.md §6), since either way the hub key signed body, k and ts.
// - as, by the identity key a, over the canonical JSON of the record without
//   sig and as ({a,body,k,p,ts}): it binds the author to this body, hub and ts.
//
// What a reader shows:
// - verified: sig checks out under k, and k is this hub. A chat record that
//   fails is shown, marked unverified (the reference does the same); one that
//   is malformed (no body, bad ts, ...) or whose p is not nb.chat.message.v1
//   is skipped.
// - the author: nobody (the reference's messages) is "hub member"; a with a
//   valid as is that identity; a without as is an unproven claim; an as that
//   does not verify is a forgery. Claims are never shown as the person.
//
// Deterministic: the same set of events gives the same timeline, whether
// replayed at once (Replay) or folded one event at a time in any order
// (Apply), so the reading plugs into a persistent projection.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "apps/files/files_reading.h"
#include "apps/profile/profile_reading.h"
#include "base/status.h"
#include "crypto/ecdsa.h"

namespace nb::apps::chat {

using crypto::Hash256;
using files::DecodedEvent;

constexpr std::string_view kChatProtocol = "nb.chat.message.v1";

enum class AuthorStatus {
  kHubMember,  // no author field: any holder of the hub secret
  kSigned,     // "a" and an "as" that verifies under a
  kUnsigned,   // "a" without "as": an unproven claim
  kForged,     // "as" that does not verify (or names no valid key)
};
// "hub-member", "signed", "unsigned", "forged".
const char* AuthorStatusName(AuthorStatus status);

struct ChatMessage {
  Hash256 event_hash;
  int64_t published_at = 0;  // the payload's publishedAt: the order key
  int64_t ts = 0;            // the record's ts
  std::string body;          // trimmed, non-empty
  bool verified = false;     // the hub signature holds
  AuthorStatus author_status = AuthorStatus::kHubMember;
  std::string author_id;  // "a" as written (lower-cased), empty if none

  bool operator==(const ChatMessage&) const = default;
};

// Largest message body we write, in bytes. Escaped twice (the record is a
// JSON string inside the payload), a body this size stays well under the
// payload bound of the reading (docs/format-notes.md).
constexpr size_t kMaxMessageBytes = 64 * 1024;

// Trims `body` as the reference does (String.prototype.trim); fails on empty
// or non-UTF-8 text.
Result<std::string> NormalizeBody(std::string_view body);

// The canonical record for a message from `hub_key`'s hub, optionally
// signed by an author identity. Fails like NormalizeBody.
Result<std::string> BuildChatRecord(const crypto::PrivateKey& hub_key, std::string_view body,
                                    int64_t ts_ms,
                                    const crypto::PrivateKey* identity_key = nullptr);
// The APP_RECORD payload carrying that record, publishedAt = ts_ms.
Result<std::string> BuildChatPayload(const crypto::PrivateKey& hub_key, std::string_view body,
                                     int64_t ts_ms,
                                     const crypto::PrivateKey* identity_key = nullptr);

enum class ChatDecode { kNotChat, kMalformed, kMessage };

// Decodes and verifies one event for hub `hub_key`. `out` is set for
// kMessage. Pure: safe to call from several threads.
ChatDecode DecodeChatEvent(const crypto::PublicKey& hub_key, const DecodedEvent& event,
                           ChatMessage* out);

class ChatReading {
 public:
  explicit ChatReading(crypto::PublicKey hub_key);

  // Replays a set of events (any order, duplicates ignored). Signatures are
  // checked on `threads` workers (0 = one per core).
  static ChatReading Replay(crypto::PublicKey hub_key, const std::vector<DecodedEvent>& events,
                            unsigned threads = 0);

  // A reading restored from a persisted projection: `messages` in timeline
  // order (possibly only the latest ones), `skipped` malformed records.
  static ChatReading FromMessages(crypto::PublicKey hub_key, std::vector<ChatMessage> messages,
                                  size_t skipped);

  // Folds in one event. Returns the message it added, if it added one.
  std::optional<ChatMessage> Apply(const DecodedEvent& event);

  // The timeline in (published_at, event hash) order.
  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Chat records too malformed to show.
  size_t skipped() const { return skipped_; }

 private:
  std::optional<ChatMessage> Fold(const Hash256& hash, ChatDecode status, ChatMessage message,
                                  bool keep_sorted);
  void Sort();

  crypto::PublicKey hub_key_;
  std::vector<ChatMessage> messages_;
  std::unordered_set<Hash256> seen_;  // chat events already folded
  size_t skipped_ = 0;
};

// How a message's author is shown, given the identities the hub knows.
struct AuthorView {
  AuthorStatus status = AuthorStatus::kHubMember;
  std::string id;                   // the claimed identity, if any
  std::optional<std::string> name;  // its current display name, if known
  // One line for people: "Ada", "Ada (04a1b2c3)" when two share the name,
  // "member 04a1b2c3" without a profile, "hub member", or the unproven or
  // forged claim spelled out.
  std::string label;
};
AuthorView DescribeAuthor(const ChatMessage& message, const profile::ProfileReading& profiles);

}  // namespace nb::apps::chat
