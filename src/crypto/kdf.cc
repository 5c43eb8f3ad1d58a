// SHA256_Transform is deprecated in OpenSSL 3 but still built (and it is
// the only way to run the compression function alone): see Pbkdf2Sha256.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "crypto/kdf.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace nb::crypto {
namespace {

// One iteration's message block: a 32-byte digest, then SHA-256 padding for
// a message of 64 (the HMAC pad block) + 32 bytes.
void PadDigestBlock(uint8_t block[64]) {
  block[32] = 0x80;
  std::memset(block + 33, 0, 64 - 33 - 8);
  const uint64_t bits = (64 + 32) * 8;
  for (int i = 0; i < 8; ++i) block[56 + i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
}

void StateToBytes(const SHA256_CTX& ctx, uint8_t out[32]) {
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<uint8_t>(ctx.h[i] >> 24);
    out[4 * i + 1] = static_cast<uint8_t>(ctx.h[i] >> 16);
    out[4 * i + 2] = static_cast<uint8_t>(ctx.h[i] >> 8);
    out[4 * i + 3] = static_cast<uint8_t>(ctx.h[i]);
  }
}

}  // namespace

// Every command that opens a hub pays for 100,000 iterations (FORMAT.md §1).
// The one-call OpenSSL form spends most of that in per-call HMAC overhead;
// here the HMAC's inner and outer pad states are computed once and each
// iteration is exactly two runs of the compression function (SHA-NI where
// the CPU has it), which takes it from about 35 ms to about a third of that.
// Pbkdf2Sha256Generic is the OpenSSL form, kept to check this one against.
Bytes Pbkdf2Sha256(ByteSpan password, ByteSpan salt, uint32_t iterations, size_t length) {
  uint8_t key[64] = {};
  if (password.size() > sizeof(key)) {
    SHA256(password.data(), password.size(), key);
  } else if (!password.empty()) {
    std::memcpy(key, password.data(), password.size());
  }
  uint8_t pad[64];
  SHA256_CTX inner_start, outer_start;
  for (size_t i = 0; i < 64; ++i) pad[i] = key[i] ^ 0x36;
  SHA256_Init(&inner_start);
  SHA256_Update(&inner_start, pad, sizeof(pad));
  for (size_t i = 0; i < 64; ++i) pad[i] = key[i] ^ 0x5c;
  SHA256_Init(&outer_start);
  SHA256_Update(&outer_start, pad, sizeof(pad));
  OPENSSL_cleanse(key, sizeof(key));
  OPENSSL_cleanse(pad, sizeof(pad));

  Bytes out(length);
  SHA256_CTX ctx;
  uint8_t u[64], t[32];
  for (uint32_t block_index = 1; (block_index - 1) * size_t{32} < length; ++block_index) {
    // U1 = HMAC(password, salt || INT(block_index)).
    ctx = inner_start;
    SHA256_Update(&ctx, salt.data(), salt.size());
    const uint8_t index_bytes[4] = {
        static_cast<uint8_t>(block_index >> 24), static_cast<uint8_t>(block_index >> 16),
        static_cast<uint8_t>(block_index >> 8), static_cast<uint8_t>(block_index)};
    SHA256_Update(&ctx, index_bytes, sizeof(index_bytes));
    SHA256_Final(u, &ctx);
    ctx = outer_start;
    SHA256_Update(&ctx, u, 32);
    SHA256_Final(u, &ctx);
    std::memcpy(t, u, 32);
    PadDigestBlock(u);
    for (uint32_t n = 1; n < iterations; ++n) {
      ctx = inner_start;
      SHA256_Transform(&ctx, u);
      StateToBytes(ctx, u);
      ctx = outer_start;
      SHA256_Transform(&ctx, u);
      StateToBytes(ctx, u);
      for (int i = 0; i < 32; ++i) t[i] ^= u[i];
    }
    const size_t at = (block_index - 1) * size_t{32};
    std::memcpy(out.data() + at, t, std::min<size_t>(32, length - at));
  }
  // The pad states are as good as the password for computing HMACs.
  OPENSSL_cleanse(&inner_start, sizeof(inner_start));
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  OPENSSL_cleanse(&outer_start, sizeof(outer_start));
  OPENSSL_cleanse(u, sizeof(u));
  OPENSSL_cleanse(t, sizeof(t));
  return out;
}

Bytes Pbkdf2Sha256Generic(ByteSpan password, ByteSpan salt, uint32_t iterations, size_t length) {
  Bytes out(length);
  // PKCS5_PBKDF2_HMAC wants a non-null password pointer even when empty.
  static const char kEmpty = 0;
  const char* pass = password.empty() ? &kEmpty : reinterpret_cast<const char*>(password.data());
  if (PKCS5_PBKDF2_HMAC(pass, static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(length), out.data()) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return out;
}

Bytes HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t length) {
  struct CtxDeleter {
    void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  };
  std::unique_ptr<EVP_PKEY_CTX, CtxDeleter> ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr));
  Bytes out(length);
  size_t out_len = length;
  // RFC 5869: an absent salt is HashLen zero bytes (the same HMAC key as an
  // empty one); OpenSSL refuses an empty salt, so pass the zeros.
  static const uint8_t kZeroSalt[32] = {};
  if (salt.empty()) salt = ByteSpan(kZeroSalt, sizeof(kZeroSalt));
  bool ok =
      ctx && EVP_PKEY_derive_init(ctx.get()) == 1 &&
      EVP_PKEY_CTX_set_hkdf_md(ctx.get(), EVP_sha256()) == 1 &&
      EVP_PKEY_CTX_set1_hkdf_salt(ctx.get(), salt.data(), static_cast<int>(salt.size())) == 1 &&
      EVP_PKEY_CTX_set1_hkdf_key(ctx.get(), ikm.data(), static_cast<int>(ikm.size())) == 1 &&
      EVP_PKEY_CTX_add1_hkdf_info(ctx.get(), info.data(), static_cast<int>(info.size())) == 1 &&
      EVP_PKEY_derive(ctx.get(), out.data(), &out_len) == 1 && out_len == length;
  if (!ok) throw std::runtime_error("HKDF failed");
  return out;
}

}  // namespace nb::crypto
