// Range-based set reconciliation speaking negentropy protocol v1.
//
// What: two peers each hold a set of items (64-bit timestamp, 32-byte id),
// ordered by (timestamp, id). The initiator sends fingerprints of ranges of
// its set; the responder compares them with its own, splits the ranges that
// differ and answers; once a range is small (< 32 items) its ids are sent
// outright and the initiator learns which ids it has that the other lacks
// (`have`) and which the other has that it lacks (`need`). Nearbytes gives
// every item timestamp 0 (only the event hash is visible without the hub
// secret), so the order is the id order; the code is general because the
// conformance kit uses real timestamps.
//
// Wire format: ../shared/negentropy-conformance/docs/negentropy-protocol-v1.md
// (version byte 0x61, then ranges: bound, mode Skip/Fingerprint/IdList,
// payload). Our messages are byte-for-byte those of the published JavaScript
// implementation for the same sets and frame size limit (the kit's test.pl
// checks this), so we interoperate with every conforming implementation.
//
// Hostile input: every message comes from the network. Parsing is bounded:
// a varint is at most 10 bytes and must fit 64 bits, an id list may not
// claim more ids than the message still holds, a bound's id prefix is at
// most 32 bytes, bounds must strictly increase within a message (nothing
// may follow the infinity bound), timestamps may not overflow, an unknown
// mode is an error. Errors are values (kCorrupt for malformed bytes,
// kUnsupported for a protocol version the initiator cannot speak); nothing
// throws or aborts. A responder keeps no state between messages, so an
// endless stream of queries costs memory per message only.
//
// Bounds (checked by tests/unit/negentropy_test.cc), with no frame limit:
// - Round trips: every message splits each differing range 16 ways and a
//   range under 32 items is answered with its ids, so sets of n items need
//   at most ceil(log16(n) / 2) + 2 round trips however many items differ;
//   equal sets need 1 (16 fingerprints out, 1 byte back). Measured for
//   1,000,000 vs 1,000,010: 3.
// - Bytes: a differing range costs 16 x (bound + 17) bytes per level
//   (bounds are 3..6 bytes with timestamp 0) and its ids at the end, so d
//   differences cost about d x (log16(n) x 16 x 23 + 2 x 32 x 32) bytes:
//   1,000,000 vs 1,000,010 takes about 20 KB (asserted under 100 KB).
// - Each id is reported once in have/need.
// With a frame size limit (>= 4096 bytes, 0 = none) no message exceeds it,
// but a cut frame is closed by one fingerprint of everything after it, so
// the peer re-splits ranges already settled: more round trips (10,000
// differences under 4 KB frames: ~350) and an id may be reported more than
// once. This is the protocol's behaviour (the JavaScript implementation
// does the same); callers treat have/need as sets.
//
// Cost: Storage keeps its items in sorted chunks of 256..512 items, each
// with its running id sum, and the start index of every chunk. Seal() sorts
// the items inserted so far in O(n log n). Insert() after Seal() costs
// O(log n + chunk + n / chunk) (about sqrt(n) word operations, no O(n)
// copy), so a live connection adds new events without rebuilding. A range
// fingerprint costs O(chunk + range / chunk) additions and one SHA-256, a
// lower-bound search O(log n). One message therefore costs O(n / chunk +
// ranges * chunk + message size) CPU on either side. Measured on the
// shared 2-core build machine (bench/negentropy_bench): 1,000,000 vs
// 1,000,010 reconciles in 4-10 ms of CPU for both sides together; building a
// 1,000,000-item set (Insert + Seal) takes about 0.4-0.5 s, once per hub;
// an Insert into it afterwards about 15 us.
//
// Threads: a Storage may be read by several Reconcilers at once; Insert()
// and Seal() need exclusive access. A Reconciler is used by one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace nb::sync::negentropy {

using Id = std::array<uint8_t, 32>;
using Fingerprint = std::array<uint8_t, 16>;

// The timestamp reserved for "infinity" (the end of the item space); no item
// may carry it.
inline constexpr uint64_t kMaxTimestamp = UINT64_MAX;
inline constexpr uint8_t kProtocolVersion = 0x61;
// A frame size limit below this is refused (the spec's minimum).
inline constexpr size_t kMinFrameSizeLimit = 4096;

struct Item {
  uint64_t timestamp = 0;
  Id id{};
  auto operator<=>(const Item&) const = default;
};

// The sum of 32-byte ids read as little-endian 256-bit integers, mod 2^256.
struct IdSum {
  std::array<uint64_t, 4> limbs{};
  void Add(const Id& id);
  void Add(const IdSum& other);
  void Subtract(const IdSum& other);
  // SHA-256 of the 32 sum bytes followed by varint(count), first 16 bytes.
  Fingerprint ToFingerprint(uint64_t count) const;
};

// A range bound: a timestamp and an id prefix (0..32 bytes, the rest
// implicitly zero). Items below the bound are those ordered before
// (timestamp, prefix padded with zeros).
struct Bound {
  uint64_t timestamp = 0;
  Id id{};  // the prefix, padded with zeros
  uint8_t prefix_length = 0;

  static Bound Infinity() { return Bound{kMaxTimestamp, {}, 0}; }
  static Bound OfItem(const Item& item) { return Bound{item.timestamp, item.id, 32}; }
};

// The set, kept sorted. Before Seal(), Insert() only appends (a bulk load);
// Seal() sorts once; after it, Insert() places each item directly.
class Storage {
 public:
  Storage();

  // Adds an item; a duplicate is a no-op. kInvalidArgument if the timestamp
  // is kMaxTimestamp (reserved for infinity).
  Status Insert(uint64_t timestamp, const Id& id);
  // Before Seal(): room for `count` items, for a bulk load of known size.
  void Reserve(size_t count) {
    if (!sealed_) staging_.reserve(count);
  }
  // Sorts the items inserted so far. Idempotent; needed once before a
  // Reconciler reads the set.
  void Seal();
  bool sealed() const { return sealed_; }
  // Number of distinct items (after Seal(); before it, the number inserted).
  size_t size() const { return sealed_ ? size_ : staging_.size(); }
  bool Contains(uint64_t timestamp, const Id& id) const;

  // Reading the sealed set by position in the order (0 <= i < size()).
  const Item& at(size_t index) const;
  // The position of the first item not below `bound`, or size().
  size_t LowerBound(const Bound& bound) const;
  // The sum of the ids at positions [begin, end).
  IdSum Sum(size_t begin, size_t end) const;
  // Calls fn(item, index) for positions [begin, end) until it returns false.
  template <typename Fn>
  void ForEach(size_t begin, size_t end, Fn&& fn) const {
    if (begin >= end) return;
    auto [chunk, offset] = Locate(begin);
    for (size_t i = begin; i < end; ++i) {
      if (offset == chunks_[chunk].items.size()) {
        ++chunk;
        offset = 0;
      }
      if (!fn(chunks_[chunk].items[offset], i)) return;
      ++offset;
    }
  }

 private:
  struct Chunk {
    std::vector<Item> items;  // sorted, never empty
    IdSum sum;
  };
  // The chunk holding position `index` (< size_) and the offset in it.
  std::pair<size_t, size_t> Locate(size_t index) const;
  IdSum ChunkPartSum(const Chunk& chunk, size_t begin, size_t end) const;
  void SplitChunk(size_t chunk);

  std::vector<Item> staging_;  // before Seal(): unsorted, may hold duplicates
  bool sealed_ = false;
  std::vector<Chunk> chunks_;
  std::vector<size_t> chunk_start_;  // position of each chunk's first item, then size_
  size_t size_ = 0;
};

// One side of one reconciliation. Either Initiate() then Reconcile() with
// each reply until it returns nullopt, or Respond() to each query. The
// storage must be sealed and outlive the Reconciler; it may grow between
// messages (a later round then simply sees the new items).
class Reconciler {
 public:
  // frame_size_limit: 0 = unlimited, else >= kMinFrameSizeLimit (a smaller
  // one makes every call fail with kInvalidArgument).
  explicit Reconciler(const Storage& storage, size_t frame_size_limit = 0);

  // The first message of the initiator.
  Result<Bytes> Initiate();
  // The responder's answer to a query. A query of another protocol version
  // gets the one-byte answer naming ours (the initiator may then retry).
  Result<Bytes> Respond(ByteSpan query);
  // The initiator's handling of a reply: appends to `have` the ids we hold
  // that the other side lacks and to `need` those it holds that we lack;
  // returns the next query, or nullopt when reconciliation is complete.
  Result<std::optional<Bytes>> Reconcile(ByteSpan reply, std::vector<Id>* have,
                                         std::vector<Id>* need);

 private:
  Result<Bytes> Process(ByteSpan message, std::vector<Id>* have, std::vector<Id>* need);
  Status Usable() const;
  void SplitRange(size_t lower, size_t upper, const Bound& upper_bound, Bytes& out);
  void EncodeBound(const Bound& bound, Bytes& out);
  bool ExceedsFrame(size_t size) const;

  const Storage& storage_;
  size_t frame_size_limit_;
  enum class Role { kNone, kInitiator, kResponder } role_ = Role::kNone;
  uint64_t last_timestamp_out_ = 0;
};

// Helpers exposed for tests.
void AppendVarint(uint64_t value, Bytes& out);

}  // namespace nb::sync::negentropy
