// The sync protocol's frames (docs/sync-protocol.md, version 1), free of
// sockets: encoding, and a bounded cursor to decode them. Every byte here
// comes from the network, so decoding never reads past the end and reports
// a malformed frame as an error value.
//
//   frame = u32be length | u8 type | body     (length counts type + body)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "crypto/sha256.h"

namespace nb::sync::peer {

constexpr uint8_t kProtocolVersion = 1;
constexpr size_t kFrameHeaderSize = 4;

enum class FrameType : uint8_t {
  kHello = 1,       // version u8 | count u16 | count x tag(16)
  kProof = 2,       // count u16 | count x (channel u16 | signature 64)
  kReconcile = 3,   // channel u16 | negentropy message (initiator -> responder)
  kReconciled = 4,  // channel u16 | negentropy message (responder -> initiator)
  kEvents = 5,      // channel u16 | count u16 | count x (hash 32 | length u32 | file bytes)
  kWantEvents = 6,  // channel u16 | count u32 | count x hash 32
  kGetBlock = 7,    // channel u16 | request u32 | hash 32
  kBlockBegin = 8,  // request u32 | found u8 | size u64
  kBlockData = 9,   // request u32 | bytes
  kBlockEnd = 10,   // request u32 | ok u8 (0: the sender's copy failed its hash)
  kPing = 11,       // empty
  kPong = 12,       // empty
  kClose = 13,      // reason text (UTF-8, at most 200 bytes)
};
const char* FrameTypeName(uint8_t type);

// Builds one frame: the header is filled in by Finish().
class FrameWriter {
 public:
  explicit FrameWriter(FrameType type);
  FrameWriter& U8(uint8_t v);
  FrameWriter& U16(uint16_t v);
  FrameWriter& U32(uint32_t v);
  FrameWriter& U64(uint64_t v);
  FrameWriter& Raw(ByteSpan bytes);
  FrameWriter& Hash(const crypto::Hash256& hash) { return Raw(hash.bytes); }
  size_t size() const { return bytes_.size(); }
  Bytes Finish() &&;

 private:
  Bytes bytes_;
};

// Reads a frame body. Each getter returns nullopt (and stays failed) once
// the body is too short; callers check `ok()` or the optional.
class FrameReader {
 public:
  explicit FrameReader(ByteSpan body) : body_(body) {}
  std::optional<uint8_t> U8();
  std::optional<uint16_t> U16();
  std::optional<uint32_t> U32();
  std::optional<uint64_t> U64();
  std::optional<ByteSpan> Raw(size_t size);
  std::optional<crypto::Hash256> Hash();
  ByteSpan Rest();
  size_t remaining() const { return body_.size() - pos_; }
  bool at_end() const { return pos_ == body_.size(); }

 private:
  ByteSpan body_;
  size_t pos_ = 0;
};

uint32_t ReadU32Be(const uint8_t* p);

}  // namespace nb::sync::peer
