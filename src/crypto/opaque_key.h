// The OpenSSL object behind PublicKey and PrivateKey. Internal to src/crypto/
// (only this folder includes OpenSSL headers).
#pragma once

#include <openssl/evp.h>

namespace nb::crypto {

struct OpaqueKey {
  EVP_PKEY* pkey = nullptr;
  explicit OpaqueKey(EVP_PKEY* k) : pkey(k) {}
  ~OpaqueKey() { EVP_PKEY_free(pkey); }
  OpaqueKey(const OpaqueKey&) = delete;
  OpaqueKey& operator=(const OpaqueKey&) = delete;
};

}  // namespace nb::crypto
