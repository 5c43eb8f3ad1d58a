// AES-256-GCM in the format's layout: IV(12) || ciphertext || tag(16), no AAD.
#pragma once

#include <array>

#include "base/bytes.h"
#include "base/status.h"

namespace nb::crypto {

constexpr size_t kAesKeySize = 32;
constexpr size_t kGcmIvSize = 12;
constexpr size_t kGcmTagSize = 16;
constexpr size_t kGcmOverhead = kGcmIvSize + kGcmTagSize;

using SymmetricKey = std::array<uint8_t, kAesKeySize>;
using GcmIv = std::array<uint8_t, kGcmIvSize>;

// Encrypts under a fresh random IV.
Bytes AesGcmEncrypt(const SymmetricKey& key, ByteSpan plaintext);
// Encrypts under a caller-chosen IV; the caller guarantees (key, IV) is never
// reused for different plaintext (the dedup scheme derives the IV from it).
Bytes AesGcmEncryptWithIv(const SymmetricKey& key, const GcmIv& iv, ByteSpan plaintext);
// Writes IV||ct||tag into `out` (plaintext.size() + kGcmOverhead bytes).
void AesGcmEncryptInto(const SymmetricKey& key, const GcmIv& iv, ByteSpan plaintext,
                       std::span<uint8_t> out);
// Fails (kCrypto) on any change to the bytes, a wrong key, or input < 28 bytes.
Result<Bytes> AesGcmDecrypt(const SymmetricKey& key, ByteSpan sealed);

}  // namespace nb::crypto
