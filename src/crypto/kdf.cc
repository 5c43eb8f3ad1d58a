#include "crypto/kdf.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <stdexcept>

namespace nb::crypto {

Bytes Pbkdf2Sha256(ByteSpan password, ByteSpan salt, uint32_t iterations, size_t length) {
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
