// What each validated event of a hub references, remembered between syncs.
//
// The folder carrier must know every block the events on each side need
// (their blockRefs, and for chunked files the chunks named inside the
// encrypted manifest), not only the blocks of the events it copies: a block
// missing or quarantined on one side is then fetched from the other. Event
// files are content-addressed, so what the event with a given hash references
// never changes; once an event has been validated its references are kept
// here and a later sync reads no event file it has seen before (a no-change
// re-run costs a directory listing per side, not a read per event).
//
// On disk: <local state dir>/sync/<hub id>.refs, rewritten whole when it
// changed. It is a cache of facts derived from verified events: a missing,
// truncated or damaged file (its checksum does not match) is ignored and the
// references are derived again. Layout (integers little-endian):
//   "NBREFS1\n" | hub id (130 bytes) | records | SHA-256 of everything before
//   record: event hash (32) | flags (1; bit 0: manifest chunks included)
//           | count (u32) | count x 32-byte hashes
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "crypto/aead.h"
#include "crypto/sha256.h"
#include "store/store.h"

namespace nb::sync {

struct EventRefs {
  // blockRefs (which may name parent events), then any manifest chunks.
  std::vector<crypto::Hash256> refs;
  // True once nothing more can be learned: the manifest's chunks are listed,
  // or the event names no manifest. False while the hub's key is unknown or
  // the manifest block was nowhere to be found.
  bool expanded = false;
};

// One hub's references. Not thread-safe: one thread at a time.
class EventRefsCache {
 public:
  // Loads the hub's file under `dir`; anything unusable gives an empty cache.
  static EventRefsCache Load(const std::filesystem::path& dir, const std::string& hub_id);
  // An empty cache that is never saved.
  EventRefsCache() = default;

  const EventRefs* Find(const crypto::Hash256& event) const;
  EventRefs* FindMutable(const crypto::Hash256& event);
  void Put(const crypto::Hash256& event, EventRefs refs);
  // Marks the cache changed after a FindMutable edit.
  void Touch() { dirty_ = true; }
  size_t size() const { return entries_.size(); }

  // Writes the file if anything changed (temp file, then rename).
  Status Save();

 private:
  std::filesystem::path file_;
  std::string hub_id_;
  std::unordered_map<crypto::Hash256, EventRefs> entries_;
  bool dirty_ = false;
};

// The chunks named inside the manifest of the CREATE_FILE event `hash`
// (its blockRefs and ciphertext given), the manifest block looked up in `a`
// then `b` (the same store twice is fine). Empty if the event names no
// manifest or cannot be read with `hub_key` (there is nothing more to
// learn); nullopt if the manifest block is in neither (try again later).
std::optional<std::vector<crypto::Hash256>> ManifestChunks(
    store::Store& a, store::Store& b, const crypto::SymmetricKey& hub_key,
    const crypto::Hash256& hash, const std::vector<crypto::Hash256>& block_refs,
    ByteSpan ciphertext);

// Largest cache file read back (a million events with a few refs each fit).
constexpr uint64_t kMaxRefsCacheBytes = uint64_t{1} << 30;

}  // namespace nb::sync
