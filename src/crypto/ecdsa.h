// ECDSA over P-256 with SHA-256, signatures as 64 bytes r||s (not DER).
// Keys are held by OpenSSL objects behind shared pointers: copying a key is
// cheap and a key may verify from several threads at once.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"

namespace nb::crypto {

constexpr size_t kPublicKeySize = 65;  // 04 || X || Y
constexpr size_t kScalarSize = 32;
constexpr size_t kSignatureSize = 64;  // r || s

using Scalar = std::array<uint8_t, kScalarSize>;
using Signature = std::array<uint8_t, kSignatureSize>;

struct OpaqueKey;  // wraps EVP_PKEY

class PublicKey {
 public:
  // Requires an uncompressed point (65 bytes starting with 04) on the curve.
  static Result<PublicKey> FromBytes(ByteSpan bytes);
  static Result<PublicKey> FromHex(std::string_view hex);

  const Bytes& bytes() const { return bytes_; }
  std::string Hex() const { return HexEncode(bytes_); }

  // Verifies a signature over SHA-256(message). Accepts 64-byte r||s (high S
  // included, as the reference does) and DER, which reference readers accept.
  bool Verify(ByteSpan message, ByteSpan signature) const;
  bool VerifyDigest(const Hash256& digest, ByteSpan signature) const;

 private:
  PublicKey(Bytes bytes, std::shared_ptr<OpaqueKey> key);
  Bytes bytes_;
  std::shared_ptr<OpaqueKey> key_;
};

class PrivateKey {
 public:
  // `scalar` must be in [1, n-1].
  static Result<PrivateKey> FromScalar(const Scalar& scalar);

  const PublicKey& public_key() const { return public_key_; }
  // Signs SHA-256(message).
  Signature Sign(ByteSpan message) const;
  Signature SignDigest(const Hash256& digest) const;

  // The OpenSSL key, for other src/crypto/ units only (crypto/opaque_key.h).
  const OpaqueKey& opaque() const { return *key_; }

 private:
  PrivateKey(std::shared_ptr<OpaqueKey> key, PublicKey public_key);
  std::shared_ptr<OpaqueKey> key_;
  PublicKey public_key_;
};

}  // namespace nb::crypto
