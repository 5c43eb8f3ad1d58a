#include "sync/peer/wire.h"

#include <cstring>

namespace nb::sync::peer {

const char* FrameTypeName(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::kHello:
      return "hello";
    case FrameType::kProof:
      return "proof";
    case FrameType::kReconcile:
      return "reconcile";
    case FrameType::kReconciled:
      return "reconciled";
    case FrameType::kEvents:
      return "events";
    case FrameType::kWantEvents:
      return "want-events";
    case FrameType::kGetBlock:
      return "get-block";
    case FrameType::kBlockBegin:
      return "block-begin";
    case FrameType::kBlockData:
      return "block-data";
    case FrameType::kBlockEnd:
      return "block-end";
    case FrameType::kPing:
      return "ping";
    case FrameType::kPong:
      return "pong";
    case FrameType::kClose:
      return "close";
  }
  return "unknown";
}

FrameWriter::FrameWriter(FrameType type) {
  bytes_.resize(kFrameHeaderSize);
  bytes_.push_back(static_cast<uint8_t>(type));
}

FrameWriter& FrameWriter::U8(uint8_t v) {
  bytes_.push_back(v);
  return *this;
}
FrameWriter& FrameWriter::U16(uint16_t v) {
  bytes_.push_back(static_cast<uint8_t>(v >> 8));
  bytes_.push_back(static_cast<uint8_t>(v));
  return *this;
}
FrameWriter& FrameWriter::U32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back(static_cast<uint8_t>(v >> shift));
  return *this;
}
FrameWriter& FrameWriter::U64(uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) bytes_.push_back(static_cast<uint8_t>(v >> shift));
  return *this;
}
FrameWriter& FrameWriter::Raw(ByteSpan bytes) {
  bytes_.insert(bytes_.end(), bytes.begin(), bytes.end());
  return *this;
}

Bytes FrameWriter::Finish() && {
  uint32_t length = static_cast<uint32_t>(bytes_.size() - kFrameHeaderSize);
  for (int i = 0; i < 4; ++i) bytes_[i] = static_cast<uint8_t>(length >> (24 - 8 * i));
  return std::move(bytes_);
}

uint32_t ReadU32Be(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

std::optional<ByteSpan> FrameReader::Raw(size_t size) {
  if (remaining() < size) {
    pos_ = body_.size();
    return std::nullopt;
  }
  ByteSpan out = body_.subspan(pos_, size);
  pos_ += size;
  return out;
}

std::optional<uint8_t> FrameReader::U8() {
  auto raw = Raw(1);
  if (!raw) return std::nullopt;
  return (*raw)[0];
}
std::optional<uint16_t> FrameReader::U16() {
  auto raw = Raw(2);
  if (!raw) return std::nullopt;
  return static_cast<uint16_t>((*raw)[0] << 8 | (*raw)[1]);
}
std::optional<uint32_t> FrameReader::U32() {
  auto raw = Raw(4);
  if (!raw) return std::nullopt;
  return ReadU32Be(raw->data());
}
std::optional<uint64_t> FrameReader::U64() {
  auto raw = Raw(8);
  if (!raw) return std::nullopt;
  uint64_t v = 0;
  for (uint8_t b : *raw) v = v << 8 | b;
  return v;
}
std::optional<crypto::Hash256> FrameReader::Hash() {
  auto raw = Raw(32);
  if (!raw) return std::nullopt;
  crypto::Hash256 h;
  std::memcpy(h.bytes.data(), raw->data(), 32);
  return h;
}
ByteSpan FrameReader::Rest() {
  ByteSpan out = body_.subspan(pos_);
  pos_ = body_.size();
  return out;
}

}  // namespace nb::sync::peer
