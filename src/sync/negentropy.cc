#include "sync/negentropy.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "crypto/sha256.h"

namespace nb::sync::negentropy {
namespace {

constexpr size_t kIdSize = 32;
constexpr size_t kFingerprintSize = 16;
// A fingerprinted range is split into this many sub-ranges...
constexpr size_t kBuckets = 16;
// ...unless it holds fewer than this many items: then its ids are sent.
constexpr size_t kIdListThreshold = kBuckets * 2;
// Room kept below the frame size limit for the closing fingerprint range
// (the same margin as the published implementations, so our frames match).
constexpr size_t kFrameMargin = 200;
// A 64-bit value takes at most 10 base-128 digits.
constexpr size_t kMaxVarintBytes = 10;

// Storage chunks: built with kChunkTarget items, split above kChunkMax.
constexpr size_t kChunkTarget = 256;
constexpr size_t kChunkMax = 2 * kChunkTarget;

enum Mode : uint64_t { kSkip = 0, kFingerprint = 1, kIdList = 2 };

uint64_t LoadLittleEndian64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// (timestamp, id) order; memcmp is the byte-wise id order and much faster
// than the element-wise std::array comparison.
uint64_t LoadBigEndian64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, 8);
  if constexpr (std::endian::native == std::endian::little) value = __builtin_bswap64(value);
  return value;
}
bool Below(uint64_t a_timestamp, const Id& a_id, uint64_t b_timestamp, const Id& b_id) {
  if (a_timestamp != b_timestamp) return a_timestamp < b_timestamp;
  // Random ids almost always differ in their first 8 bytes.
  uint64_t a_head = LoadBigEndian64(a_id.data()), b_head = LoadBigEndian64(b_id.data());
  if (a_head != b_head) return a_head < b_head;
  return std::memcmp(a_id.data() + 8, b_id.data() + 8, kIdSize - 8) < 0;
}
bool ItemLess(const Item& a, const Item& b) { return Below(a.timestamp, a.id, b.timestamp, b.id); }
bool SameItem(const Item& a, const Item& b) {
  return a.timestamp == b.timestamp && std::memcmp(a.id.data(), b.id.data(), kIdSize) == 0;
}
// Item order against a bound: the bound's id is zero-padded, which orders an
// item equal to the prefix followed by zeros at the bound, not below it.
bool ItemBelow(const Item& item, const Bound& bound) {
  return Below(item.timestamp, item.id, bound.timestamp, bound.id);
}
bool BoundBelow(const Bound& a, const Bound& b) {
  return Below(a.timestamp, a.id, b.timestamp, b.id);
}

Error Malformed(const std::string& what) {
  return MakeError(ErrorCode::kCorrupt, "negentropy message: " + what);
}

// Bounded reading of one message.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : bytes_(bytes) {}
  bool empty() const { return pos_ == bytes_.size(); }
  size_t remaining() const { return bytes_.size() - pos_; }

  Result<uint8_t> Byte() {
    if (empty()) return Malformed("truncated");
    return bytes_[pos_++];
  }
  Result<ByteSpan> Take(size_t n) {
    if (remaining() < n) return Malformed("truncated");
    ByteSpan out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  Result<uint64_t> Varint() {
    uint64_t value = 0;
    for (size_t i = 0; i < kMaxVarintBytes; ++i) {
      if (empty()) return Malformed("truncated varint");
      uint8_t byte = bytes_[pos_++];
      if (value > (UINT64_MAX >> 7)) return Malformed("varint exceeds 64 bits");
      value = (value << 7) | (byte & 0x7f);
      if ((byte & 0x80) == 0) return value;
    }
    return Malformed("varint longer than 10 bytes");
  }

 private:
  ByteSpan bytes_;
  size_t pos_ = 0;
};

// Decodes bounds of one message (timestamps are deltas within a message).
class BoundDecoder {
 public:
  Result<Bound> Decode(Reader& in) {
    NB_ASSIGN_OR_RETURN(uint64_t encoded, in.Varint());
    Bound bound;
    if (encoded == 0 || last_ == kMaxTimestamp) {
      // 0 is infinity; after infinity every timestamp is infinity (and the
      // caller rejects the bound as not increasing).
      bound.timestamp = kMaxTimestamp;
    } else {
      uint64_t delta = encoded - 1;
      if (delta >= kMaxTimestamp - last_) return Malformed("timestamp overflows");
      bound.timestamp = last_ + delta;
    }
    last_ = bound.timestamp;
    NB_ASSIGN_OR_RETURN(uint64_t length, in.Varint());
    if (length > kIdSize) return Malformed("bound id prefix longer than 32 bytes");
    if (bound.timestamp == kMaxTimestamp && length != 0) {
      return Malformed("infinity bound with an id prefix");
    }
    NB_ASSIGN_OR_RETURN(ByteSpan prefix, in.Take(length));
    std::copy(prefix.begin(), prefix.end(), bound.id.begin());
    bound.prefix_length = static_cast<uint8_t>(length);
    return bound;
  }

 private:
  uint64_t last_ = 0;
};

// The shortest bound that separates `prev` from the next item `curr`.
Bound MinimalBound(const Item& prev, const Item& curr) {
  Bound bound;
  bound.timestamp = curr.timestamp;
  if (curr.timestamp != prev.timestamp) return bound;  // empty prefix
  size_t shared = 0;
  while (shared < kIdSize && curr.id[shared] == prev.id[shared]) ++shared;
  // Distinct items with equal timestamps differ somewhere, so shared < 32.
  size_t length = std::min(shared + 1, kIdSize);
  std::copy_n(curr.id.begin(), length, bound.id.begin());
  bound.prefix_length = static_cast<uint8_t>(length);
  return bound;
}

void AppendBytes(ByteSpan bytes, Bytes& out) { out.insert(out.end(), bytes.begin(), bytes.end()); }

}  // namespace

void AppendVarint(uint64_t value, Bytes& out) {
  uint8_t digits[kMaxVarintBytes];
  size_t n = 0;
  do {
    digits[n++] = value & 0x7f;
    value >>= 7;
  } while (value != 0);
  // Most significant digit first; the high bit marks "more follows".
  for (size_t i = n; i-- > 0;) out.push_back(static_cast<uint8_t>(digits[i] | (i == 0 ? 0 : 0x80)));
}

// ---- IdSum ----

void IdSum::Add(const Id& id) {
  unsigned carry = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint64_t word = LoadLittleEndian64(id.data() + 8 * i);
    uint64_t sum = limbs[i] + word;
    unsigned c1 = sum < word;
    uint64_t total = sum + carry;
    unsigned c2 = total < sum;
    limbs[i] = total;
    carry = c1 | c2;
  }
}

void IdSum::Add(const IdSum& other) {
  unsigned carry = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint64_t sum = limbs[i] + other.limbs[i];
    unsigned c1 = sum < other.limbs[i];
    uint64_t total = sum + carry;
    unsigned c2 = total < sum;
    limbs[i] = total;
    carry = c1 | c2;
  }
}

void IdSum::Subtract(const IdSum& other) {
  unsigned borrow = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint64_t diff = limbs[i] - other.limbs[i];
    unsigned b1 = limbs[i] < other.limbs[i];
    uint64_t total = diff - borrow;
    unsigned b2 = diff < borrow;
    limbs[i] = total;
    borrow = b1 | b2;
  }
}

Fingerprint IdSum::ToFingerprint(uint64_t count) const {
  Bytes input;
  input.reserve(kIdSize + kMaxVarintBytes);
  for (uint64_t limb : limbs) {
    for (int b = 0; b < 8; ++b) input.push_back(static_cast<uint8_t>(limb >> (8 * b)));
  }
  AppendVarint(count, input);
  crypto::Hash256 hash = crypto::Sha256(input);
  Fingerprint out;
  std::copy_n(hash.bytes.begin(), kFingerprintSize, out.begin());
  return out;
}

// ---- Storage ----

Storage::Storage() : chunk_start_{0} {}

Status Storage::Insert(uint64_t timestamp, const Id& id) {
  if (timestamp == kMaxTimestamp) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "negentropy: timestamp 2^64-1 is reserved for infinity");
  }
  Item item{timestamp, id};
  if (!sealed_) {
    staging_.push_back(item);
    return Status::Ok();
  }
  if (chunks_.empty()) {
    chunks_.push_back(Chunk{{item}, {}});
    chunks_.back().sum.Add(id);
    chunk_start_ = {0, 1};
    size_ = 1;
    return Status::Ok();
  }
  // The first chunk whose last item is not below the new one, else the last.
  auto chunk_it = std::partition_point(chunks_.begin(), chunks_.end(), [&](const Chunk& c) {
    return ItemLess(c.items.back(), item);
  });
  if (chunk_it == chunks_.end()) --chunk_it;
  Chunk& chunk = *chunk_it;
  auto pos = std::lower_bound(chunk.items.begin(), chunk.items.end(), item, ItemLess);
  if (pos != chunk.items.end() && SameItem(*pos, item)) return Status::Ok();  // duplicate
  chunk.items.insert(pos, item);
  chunk.sum.Add(id);
  size_t index = static_cast<size_t>(chunk_it - chunks_.begin());
  for (size_t i = index + 1; i < chunk_start_.size(); ++i) ++chunk_start_[i];
  ++size_;
  if (chunk.items.size() > kChunkMax) SplitChunk(index);
  return Status::Ok();
}

void Storage::SplitChunk(size_t index) {
  Chunk& chunk = chunks_[index];
  size_t half = chunk.items.size() / 2;
  Chunk upper;
  upper.items.assign(chunk.items.begin() + half, chunk.items.end());
  chunk.items.resize(half);
  for (const Item& item : upper.items) upper.sum.Add(item.id);
  chunk.sum.Subtract(upper.sum);
  size_t upper_start = chunk_start_[index] + half;
  chunks_.insert(chunks_.begin() + index + 1, std::move(upper));
  chunk_start_.insert(chunk_start_.begin() + index + 1, upper_start);
}

void Storage::Seal() {
  if (sealed_) return;
  sealed_ = true;
  std::sort(staging_.begin(), staging_.end(), ItemLess);
  staging_.erase(std::unique(staging_.begin(), staging_.end(), SameItem), staging_.end());
  size_ = staging_.size();
  chunks_.clear();
  chunk_start_.clear();
  for (size_t begin = 0; begin < staging_.size(); begin += kChunkTarget) {
    size_t end = std::min(begin + kChunkTarget, staging_.size());
    Chunk chunk;
    chunk.items.assign(staging_.begin() + begin, staging_.begin() + end);
    for (const Item& item : chunk.items) chunk.sum.Add(item.id);
    chunk_start_.push_back(begin);
    chunks_.push_back(std::move(chunk));
  }
  chunk_start_.push_back(size_);
  staging_.clear();
  staging_.shrink_to_fit();
}

bool Storage::Contains(uint64_t timestamp, const Id& id) const {
  Item item{timestamp, id};
  if (!sealed_) return std::find(staging_.begin(), staging_.end(), item) != staging_.end();
  size_t index = LowerBound(Bound::OfItem(item));
  return index < size_ && SameItem(at(index), item);
}

std::pair<size_t, size_t> Storage::Locate(size_t index) const {
  // The last chunk starting at or before `index`.
  auto it = std::upper_bound(chunk_start_.begin(), chunk_start_.end() - 1, index);
  size_t chunk = static_cast<size_t>(it - chunk_start_.begin()) - 1;
  return {chunk, index - chunk_start_[chunk]};
}

const Item& Storage::at(size_t index) const {
  auto [chunk, offset] = Locate(index);
  return chunks_[chunk].items[offset];
}

size_t Storage::LowerBound(const Bound& bound) const {
  auto chunk_it = std::partition_point(chunks_.begin(), chunks_.end(), [&](const Chunk& c) {
    return ItemBelow(c.items.back(), bound);
  });
  if (chunk_it == chunks_.end()) return size_;
  auto pos = std::partition_point(chunk_it->items.begin(), chunk_it->items.end(),
                                  [&](const Item& item) { return ItemBelow(item, bound); });
  size_t index = static_cast<size_t>(chunk_it - chunks_.begin());
  return chunk_start_[index] + static_cast<size_t>(pos - chunk_it->items.begin());
}

IdSum Storage::ChunkPartSum(const Chunk& chunk, size_t begin, size_t end) const {
  IdSum sum;
  size_t n = chunk.items.size();
  if (2 * (end - begin) <= n) {
    for (size_t i = begin; i < end; ++i) sum.Add(chunk.items[i].id);
    return sum;
  }
  // Most of the chunk: its sum minus the items outside [begin, end).
  sum = chunk.sum;
  IdSum outside;
  for (size_t i = 0; i < begin; ++i) outside.Add(chunk.items[i].id);
  for (size_t i = end; i < n; ++i) outside.Add(chunk.items[i].id);
  sum.Subtract(outside);
  return sum;
}

IdSum Storage::Sum(size_t begin, size_t end) const {
  IdSum sum;
  if (begin >= end) return sum;
  auto [first, first_offset] = Locate(begin);
  auto [last, last_offset] = Locate(end - 1);
  if (first == last) return ChunkPartSum(chunks_[first], first_offset, last_offset + 1);
  sum = ChunkPartSum(chunks_[first], first_offset, chunks_[first].items.size());
  for (size_t c = first + 1; c < last; ++c) sum.Add(chunks_[c].sum);
  sum.Add(ChunkPartSum(chunks_[last], 0, last_offset + 1));
  return sum;
}

// ---- Reconciler ----

Reconciler::Reconciler(const Storage& storage, size_t frame_size_limit)
    : storage_(storage), frame_size_limit_(frame_size_limit) {}

Status Reconciler::Usable() const {
  if (frame_size_limit_ != 0 && frame_size_limit_ < kMinFrameSizeLimit) {
    return MakeError(ErrorCode::kInvalidArgument, "negentropy: frame size limit " +
                                                      std::to_string(frame_size_limit_) +
                                                      " is below the minimum of 4096");
  }
  if (!storage_.sealed()) {
    return MakeError(ErrorCode::kInternal, "negentropy: the storage is not sealed");
  }
  return Status::Ok();
}

bool Reconciler::ExceedsFrame(size_t size) const {
  return frame_size_limit_ != 0 && size > frame_size_limit_ - kFrameMargin;
}

void Reconciler::EncodeBound(const Bound& bound, Bytes& out) {
  if (bound.timestamp == kMaxTimestamp) {
    last_timestamp_out_ = kMaxTimestamp;
    AppendVarint(0, out);
  } else {
    // Bounds are written in increasing order, so the delta is never negative.
    AppendVarint(bound.timestamp - last_timestamp_out_ + 1, out);
    last_timestamp_out_ = bound.timestamp;
  }
  AppendVarint(bound.prefix_length, out);
  out.insert(out.end(), bound.id.begin(), bound.id.begin() + bound.prefix_length);
}

void Reconciler::SplitRange(size_t lower, size_t upper, const Bound& upper_bound, Bytes& out) {
  size_t count = upper - lower;
  if (count < kIdListThreshold) {
    EncodeBound(upper_bound, out);
    AppendVarint(kIdList, out);
    AppendVarint(count, out);
    storage_.ForEach(lower, upper, [&](const Item& item, size_t) {
      out.insert(out.end(), item.id.begin(), item.id.end());
      return true;
    });
    return;
  }
  // kBuckets sub-ranges of near-equal counts, the first `extra` one larger.
  size_t per_bucket = count / kBuckets;
  size_t extra = count % kBuckets;
  size_t current = lower;
  for (size_t i = 0; i < kBuckets; ++i) {
    size_t bucket_size = per_bucket + (i < extra ? 1 : 0);
    Fingerprint fingerprint =
        storage_.Sum(current, current + bucket_size).ToFingerprint(bucket_size);
    current += bucket_size;
    Bound next = current == upper ? upper_bound
                                  : MinimalBound(storage_.at(current - 1), storage_.at(current));
    EncodeBound(next, out);
    AppendVarint(kFingerprint, out);
    AppendBytes(fingerprint, out);
  }
}

Result<Bytes> Reconciler::Initiate() {
  NB_RETURN_IF_ERROR(Usable());
  if (role_ != Role::kNone) {
    return MakeError(ErrorCode::kInternal,
                     "negentropy: Initiate() called twice or after Respond()");
  }
  role_ = Role::kInitiator;
  last_timestamp_out_ = 0;
  Bytes out{kProtocolVersion};
  SplitRange(0, storage_.size(), Bound::Infinity(), out);
  return out;
}

Result<Bytes> Reconciler::Respond(ByteSpan query) {
  NB_RETURN_IF_ERROR(Usable());
  if (role_ == Role::kInitiator) {
    return MakeError(ErrorCode::kInternal, "negentropy: Respond() on an initiator");
  }
  role_ = Role::kResponder;
  return Process(query, nullptr, nullptr);
}

Result<std::optional<Bytes>> Reconciler::Reconcile(ByteSpan reply, std::vector<Id>* have,
                                                   std::vector<Id>* need) {
  NB_RETURN_IF_ERROR(Usable());
  if (role_ != Role::kInitiator) {
    return MakeError(ErrorCode::kInternal, "negentropy: Reconcile() before Initiate()");
  }
  std::vector<Id> have_scratch, need_scratch;
  NB_ASSIGN_OR_RETURN(Bytes out,
                      Process(reply, have ? have : &have_scratch, need ? need : &need_scratch));
  if (out.size() == 1) return std::optional<Bytes>();
  return std::optional<Bytes>(std::move(out));
}

Result<Bytes> Reconciler::Process(ByteSpan message, std::vector<Id>* have, std::vector<Id>* need) {
  const bool initiator = role_ == Role::kInitiator;
  Reader in(message);
  last_timestamp_out_ = 0;  // timestamps are deltas within one message
  Bytes out{kProtocolVersion};

  NB_ASSIGN_OR_RETURN(uint8_t version, in.Byte());
  if (version < 0x60 || version > 0x6f) return Malformed("not a negentropy protocol version byte");
  if (version != kProtocolVersion) {
    if (initiator) {
      return MakeError(ErrorCode::kUnsupported, "negentropy: the peer speaks protocol version " +
                                                    std::to_string(version - 0x60) +
                                                    ", we speak 1");
    }
    return out;  // our version only: the initiator may retry in it
  }

  // Ids found in an initiator's IdList ranges, kept sorted for lookups.
  std::vector<Id> theirs;
  const size_t storage_size = storage_.size();
  BoundDecoder bounds;
  Bound prev_bound;  // (0, empty prefix)
  size_t prev_index = 0;
  bool skip = false;  // a run of skipped ranges not yet written

  while (!in.empty()) {
    Bytes pending;
    auto write_skip = [&] {
      if (!skip) return;
      skip = false;
      EncodeBound(prev_bound, pending);
      AppendVarint(kSkip, pending);
    };

    NB_ASSIGN_OR_RETURN(Bound bound, bounds.Decode(in));
    // Also rejects an empty first range and anything after infinity.
    if (!BoundBelow(prev_bound, bound)) return Malformed("ranges not in increasing order");
    NB_ASSIGN_OR_RETURN(uint64_t mode, in.Varint());

    size_t lower = prev_index;
    size_t upper = std::max(lower, storage_.LowerBound(bound));

    if (mode == kSkip) {
      skip = true;
    } else if (mode == kFingerprint) {
      NB_ASSIGN_OR_RETURN(ByteSpan theirs_fp, in.Take(kFingerprintSize));
      Fingerprint ours = storage_.Sum(lower, upper).ToFingerprint(upper - lower);
      if (!std::equal(ours.begin(), ours.end(), theirs_fp.begin())) {
        write_skip();
        SplitRange(lower, upper, bound, pending);
      } else {
        skip = true;
      }
    } else if (mode == kIdList) {
      NB_ASSIGN_OR_RETURN(uint64_t count, in.Varint());
      if (count > in.remaining() / kIdSize) return Malformed("id list longer than the message");
      NB_ASSIGN_OR_RETURN(ByteSpan ids, in.Take(count * kIdSize));
      if (initiator) {
        skip = true;
        theirs.clear();
        theirs.reserve(count);
        for (size_t i = 0; i < count; ++i) {
          Id id;
          std::copy_n(ids.begin() + i * kIdSize, kIdSize, id.begin());
          theirs.push_back(id);
        }
        // Their ids in message order, first occurrence only, for `need`.
        std::vector<Id> their_order = theirs;
        std::sort(theirs.begin(), theirs.end());
        theirs.erase(std::unique(theirs.begin(), theirs.end()), theirs.end());
        std::vector<bool> both(theirs.size(), false);
        storage_.ForEach(lower, upper, [&](const Item& item, size_t) {
          auto it = std::lower_bound(theirs.begin(), theirs.end(), item.id);
          if (it != theirs.end() && *it == item.id) {
            both[static_cast<size_t>(it - theirs.begin())] = true;
          } else {
            have->push_back(item.id);
          }
          return true;
        });
        for (const Id& id : their_order) {
          size_t k = static_cast<size_t>(std::lower_bound(theirs.begin(), theirs.end(), id) -
                                         theirs.begin());
          if (!both[k]) {
            both[k] = true;  // report each id once
            need->push_back(id);
          }
        }
      } else {
        write_skip();
        Bytes response_ids;
        size_t response_count = 0;
        Bound end_bound = bound;
        storage_.ForEach(lower, upper, [&](const Item& item, size_t index) {
          if (ExceedsFrame(out.size() + response_ids.size())) {
            // Out of room: end this range at this item; the rest of the set
            // gets the closing fingerprint below.
            end_bound = Bound::OfItem(item);
            upper = index;
            return false;
          }
          response_ids.insert(response_ids.end(), item.id.begin(), item.id.end());
          ++response_count;
          return true;
        });
        EncodeBound(end_bound, pending);
        AppendVarint(kIdList, pending);
        AppendVarint(response_count, pending);
        AppendBytes(response_ids, pending);
        AppendBytes(pending, out);
        pending.clear();
      }
    } else {
      return Malformed("unknown mode " + std::to_string(mode));
    }

    if (ExceedsFrame(out.size() + pending.size())) {
      // Frame full: drop this range's answer and close with one fingerprint
      // of everything from here on; the peer will ask again.
      Fingerprint rest = storage_.Sum(upper, storage_size).ToFingerprint(storage_size - upper);
      EncodeBound(Bound::Infinity(), out);
      AppendVarint(kFingerprint, out);
      AppendBytes(rest, out);
      break;
    }
    AppendBytes(pending, out);
    prev_index = upper;
    prev_bound = bound;
  }
  return out;
}

}  // namespace nb::sync::negentropy
