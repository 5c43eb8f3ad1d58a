// The PROFILE reading (FORMAT.md §6): who is who in a hub, as another
// reading of the same history.
//
// An identity record travels as an APP_RECORD signed by the hub key:
//
//   {"type":"APP_RECORD","protocol":"nb.identity.record.v1","record":"<JSON>",
//    "authorPublicKey":<hub id>,"publishedAt":MS}
//
// where record is the canonical JSON (apps/canonical_json.h) of
//
//   {"k":<identity id>,"p":"nb.identity.record.v1",
//    "profile":{"bio":B?,"displayName":N},"sig":<b64url>,"ts":MS}
//
// and sig is the identity key's signature over the record without sig. As in
// the reference (nearbytes-chat verifyIdentityRecord), the signed form is
// rebuilt from the normalized fields: displayName and bio trimmed, an empty
// bio dropped, other profile fields ignored.
//
// Holding the hub secret lets anyone write a record naming any identity; the
// identity signature is what stops a member from publishing a name under
// someone else's key, so a record whose signature fails is ignored.
//
// Per identity the latest valid record wins: the largest ts, then the largest
// event hash. The result depends only on the set of events: Replay of any
// order and Apply of one event at a time in any order agree.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "apps/files/files_reading.h"
#include "base/status.h"
#include "crypto/ecdsa.h"

namespace nb::apps::profile {

using crypto::Hash256;
using files::DecodedEvent;

constexpr std::string_view kIdentityRecordProtocol = "nb.identity.record.v1";
// The reference app's hub-scoped copy of an identity record: the record
// object inside {"k","p","record","ref":{"channel","eventHash"},"sig","ts"},
// the whole signed again by the identity key. Read (not written) so names
// published by the reference show up here too.
constexpr std::string_view kIdentitySnapshotProtocol = "nb.identity.snapshot.v1";

struct ProfileFields {
  std::string display_name;        // trimmed, non-empty
  std::optional<std::string> bio;  // trimmed, non-empty when present

  bool operator==(const ProfileFields&) const = default;
};

struct IdentityProfile {
  std::string id;  // the identity key, 130 lower-case hex
  ProfileFields profile;
  int64_t ts = 0;      // the record's ts
  Hash256 event_hash;  // the event that carried the winning record

  bool operator==(const IdentityProfile&) const = default;
};

// Trims and checks profile fields as the reference normalizes them: the name
// must be non-empty after trimming, an empty bio becomes no bio, and both
// must be valid UTF-8.
Result<ProfileFields> NormalizeProfile(std::string_view display_name,
                                       std::optional<std::string_view> bio);

// The canonical record JSON signed by `identity_key` (sig included).
std::string BuildIdentityRecord(const crypto::PrivateKey& identity_key,
                                const ProfileFields& profile, int64_t ts_ms);
// The APP_RECORD payload carrying that record in hub `hub_id`, with
// publishedAt = ts_ms.
std::string BuildIdentityPayload(const crypto::PrivateKey& identity_key, const std::string& hub_id,
                                 const ProfileFields& profile, int64_t ts_ms);

// What one event means to this reading.
enum class RecordStatus {
  kNotIdentity,   // another payload type or protocol: skipped
  kMalformed,     // an identity record with missing or ill-typed fields
  kBadSignature,  // well-formed, but the identity signature does not verify
  kValid,
};

// Decodes and verifies one event. `out` is set for kValid. Pure: safe to
// call from several threads.
RecordStatus CheckIdentityEvent(const DecodedEvent& event, IdentityProfile* out);

class ProfileReading {
 public:
  // Replays a set of events (any order, duplicates ignored). Signatures are
  // checked on `threads` workers (0 = one per core).
  static ProfileReading Replay(const std::vector<DecodedEvent>& events, unsigned threads = 0);

  // Folds in one event. Returns true if the reading changed.
  bool Apply(const DecodedEvent& event);

  // Identities with a valid record, by id.
  const std::map<std::string, IdentityProfile>& identities() const { return identities_; }
  const IdentityProfile* Find(std::string_view id) const;
  // How many identities currently carry this display name (to tell two
  // people called "Ada" apart).
  size_t CountWithName(std::string_view display_name) const;
  // Identity records ignored because they were malformed or badly signed.
  size_t rejected() const { return rejected_; }

 private:
  bool Fold(const Hash256& hash, RecordStatus status, IdentityProfile profile);

  std::map<std::string, IdentityProfile> identities_;
  std::map<std::string, size_t, std::less<>> name_counts_;
  std::unordered_set<Hash256> seen_;  // identity-record events already folded
  size_t rejected_ = 0;
};

}  // namespace nb::apps::profile
