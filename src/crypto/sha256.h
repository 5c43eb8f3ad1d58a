// SHA-256, one-shot and streaming. Content addresses and event hashes are
// SHA-256 digests shown as 64 lower-case hex digits.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace nb::crypto {

struct Hash256 {
  std::array<uint8_t, 32> bytes{};

  std::string Hex() const { return HexEncode(bytes); }
  // Parses 64 hex digits (either case).
  static std::optional<Hash256> FromHex(std::string_view hex);
  auto operator<=>(const Hash256&) const = default;
};

Hash256 Sha256(ByteSpan data);

class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;

  void Update(ByteSpan data);
  // Finishes and resets the stream for reuse.
  Hash256 Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Bytes HmacSha256(ByteSpan key, ByteSpan data);

// HMAC-SHA256 over data fed in pieces (RFC 2104 on two SHA-256 streams);
// equals HmacSha256(key, concatenation of the pieces).
class HmacSha256Stream {
 public:
  explicit HmacSha256Stream(ByteSpan key);
  void Update(ByteSpan data) { inner_.Update(data); }
  Hash256 Finish();

 private:
  std::array<uint8_t, 64> outer_pad_{};
  Sha256Stream inner_;
};

}  // namespace nb::crypto

template <>
struct std::hash<nb::crypto::Hash256> {
  size_t operator()(const nb::crypto::Hash256& h) const noexcept {
    size_t v;
    static_assert(sizeof(v) <= 32);
    __builtin_memcpy(&v, h.bytes.data(), sizeof(v));
    return v;
  }
};
