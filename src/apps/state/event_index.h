// The verified-event index of one hub: which event files were already
// checked (hash, signature, channel) and decoded, keyed by hash with the
// file's size and mtime when it was verified. Reopening a hub costs a stat
// of each channel directory; a directory whose mtime changed since it was
// last listed is listed again, and files with new names are verified.
// Events whose files vanished (quarantined, or removed by another program)
// leave the index.
//
// Known files are trusted as verified: event files are immutable, and one
// rewritten in place (damage: its directory's mtime does not change) is
// caught by whoever reads its bytes (carriers verify what they copy or
// send) and by `nearbytes verify`, which quarantines it, after which it
// leaves the index as a vanished file. (Stat'ing every known file to find
// such damage made each open of a large hub cost a system call per event.)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/chat/chat_reading.h"
#include "apps/files/files_reading.h"
#include "apps/state/state_db.h"
#include "hub/hub.h"

namespace nb::apps::state {

// Which reading an event feeds; LoadAll can ask for some kinds only.
enum EventKind : unsigned {
  kKindOther = 1,
  kKindFiles = 2,
  kKindChat = 4,
  kKindIdentity = 8,
  kAllKinds = 15,
};
EventKind KindOf(const files::DecodedEvent& event);
// A hash column of the state database (32 bytes; zeros if it is not).
crypto::Hash256 HashFromBlob(ByteSpan blob);

struct RefreshReport {
  std::vector<files::DecodedEvent> added;  // newly verified and decoded
  size_t added_count = 0;                  // the same, when not kept (see KeepAdded)
  size_t removed = 0;                      // events whose files disappeared
  size_t undecodable = 0;                  // new valid envelopes we cannot read
  std::vector<log::RefusedEvent> refused;  // new invalid files (quarantined)
  bool listed = false;                     // false: no directory changed
  size_t checked = 0;                      // new names looked at
};

class EventIndex {
 public:
  EventIndex(StateDb* db, hub::Hub* hub) : db_(db), hub_(hub) {}

  // Whether Refresh returns the decoded events it added (default) or only
  // counts them: a cold replay of a large hub need not hold them all.
  void KeepAdded(bool keep) { keep_added_ = keep; }
  // Brings the index in step with the store's roots.
  Result<RefreshReport> Refresh(unsigned threads = 0);
  // Every decodable event of the hub (of the given kinds), from the index
  // alone (no crypto).
  Result<std::vector<files::DecodedEvent>> LoadAll(unsigned kinds = kAllKinds);
  // One decodable event by hash; nullopt if the index does not hold it.
  Result<std::optional<files::DecodedEvent>> LoadOne(const crypto::Hash256& hash);
  // What the FILES order needs (FilesOrderNodes of every decodable event):
  // every FILES event, and the other events FILES events name as parents.
  Result<std::vector<files::OrderNode>> FilesOrderKeys();
  // The chat projection: the last `limit` messages (0 = all) in timeline
  // order, and how many there are.
  Result<std::vector<chat::ChatMessage>> ChatMessages(size_t limit = 0);
  Result<size_t> ChatCount();
  // Events of the given kinds (decodable ones).
  Result<size_t> KindCount(unsigned kinds);
  // Events whose payload could not be decrypted or decoded.
  Result<size_t> UndecodableCount();
  // Records an event this process has just appended (already verified).
  Status Record(const log::ValidEvent& event, const std::string& payload);
  // Records, in one transaction, events this process has signed and
  // published: the next Refresh finds them known and verifies nothing. An
  // event whose file is in no root is left out (a Refresh would not find
  // it either).
  struct Appended {
    crypto::Hash256 hash;
    std::vector<crypto::Hash256> refs;
    std::string payload;
    // Set by a writer of a FILES event it has decoded (DecodeEvent gave
    // `files` and this timestamp): the payload is not decoded again.
    std::optional<int64_t> files_timestamp;
  };
  Status RecordAppended(const std::vector<Appended>& events);
  // Forgets the listing state so the next Refresh lists every directory.
  Status InvalidateScans();

  StateDb* db() { return db_; }
  const std::string& hub_id() const { return hub_->id(); }

 private:
  // `chat` is the decoded message of a chat event (decoding checks record
  // signatures, so Refresh does it on every core before storing).
  Status Store(const crypto::Hash256& hash, const store::EntryStat& stat,
               const std::vector<crypto::Hash256>& refs, const files::DecodedEvent* decoded,
               EventKind kind, const std::string& payload, const chat::ChatMessage* chat);
  std::optional<chat::ChatMessage> DecodeChat(const files::DecodedEvent& decoded,
                                              EventKind kind) const;
  // One payload decoded for storing: the event (nullopt: undecodable), its
  // kind and, for a chat message, the message (its signatures checked).
  // Pure: Refresh calls it on every core.
  struct Decoded {
    std::optional<files::DecodedEvent> event;
    EventKind kind = kKindOther;
    std::optional<chat::ChatMessage> chat;
  };
  Decoded Decode(const crypto::Hash256& hash, const std::vector<crypto::Hash256>& refs,
                 std::string_view payload) const;

  StateDb* db_;
  hub::Hub* hub_;
  // Removes an event from the index (its file vanished or no longer verifies).
  Status Forget(const crypto::Hash256& hash);

  std::optional<Statement> put_event_, put_chat_;  // prepared once, reused
  std::optional<Statement> drop_event_, drop_chat_;
  bool keep_added_ = true;
};

}  // namespace nb::apps::state
