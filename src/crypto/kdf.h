// Key derivation: PBKDF2-HMAC-SHA256 and HKDF-SHA256 (RFC 5869).
#pragma once

#include "base/bytes.h"

namespace nb::crypto {

Bytes Pbkdf2Sha256(ByteSpan password, ByteSpan salt, uint32_t iterations, size_t length);
// The same through OpenSSL's one-call PKCS5_PBKDF2_HMAC: slower, kept as the
// reference the tests check Pbkdf2Sha256 against.
Bytes Pbkdf2Sha256Generic(ByteSpan password, ByteSpan salt, uint32_t iterations, size_t length);
Bytes HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t length);

}  // namespace nb::crypto
