#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace nb::crypto {

std::optional<Hash256> Hash256::FromHex(std::string_view hex) {
  if (!IsHex(hex, 64)) return std::nullopt;
  auto bytes = HexDecode(hex);
  Hash256 h;
  std::copy(bytes->begin(), bytes->end(), h.bytes.begin());
  return h;
}

Hash256 Sha256(ByteSpan data) {
  Hash256 out;
  unsigned int len = 0;
  // EVP_Digest picks the SHA-NI path where the CPU has it.
  if (EVP_Digest(data.data(), data.size(), out.bytes.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  return out;
}

struct Sha256Stream::Impl {
  EVP_MD_CTX* ctx = nullptr;
  Impl() : ctx(EVP_MD_CTX_new()) {
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
      throw std::runtime_error("SHA-256 init failed");
    }
  }
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256Stream::Sha256Stream() : impl_(std::make_unique<Impl>()) {}
Sha256Stream::~Sha256Stream() = default;
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::Update(ByteSpan data) {
  if (EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) {
    throw std::runtime_error("SHA-256 update failed");
  }
}

Hash256 Sha256Stream::Finish() {
  Hash256 out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.bytes.data(), &len) != 1 ||
      EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 final failed");
  }
  return out;
}

Bytes HmacSha256(ByteSpan key, ByteSpan data) {
  Bytes out(32);
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
           out.data(), &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

HmacSha256Stream::HmacSha256Stream(ByteSpan key) {
  std::array<uint8_t, 64> block{};
  if (key.size() > block.size()) {
    Hash256 digest = Sha256(key);
    std::copy(digest.bytes.begin(), digest.bytes.end(), block.begin());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<uint8_t, 64> inner_pad{};
  for (size_t i = 0; i < block.size(); ++i) {
    inner_pad[i] = block[i] ^ 0x36;
    outer_pad_[i] = block[i] ^ 0x5c;
  }
  inner_.Update(inner_pad);
}

Hash256 HmacSha256Stream::Finish() {
  Hash256 inner = inner_.Finish();
  Sha256Stream outer;
  outer.Update(outer_pad_);
  outer.Update(inner.bytes);
  return outer.Finish();
}

}  // namespace nb::crypto
