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

// Streaming AES-256-GCM for blocks too large to hold in memory, in the same
// layout. Encrypt: Update as often as needed (output = input size), then
// Finish gives the 16-byte tag; the caller writes IV || output || tag.
class AesGcmStreamEncryptor {
 public:
  AesGcmStreamEncryptor(const SymmetricKey& key, const GcmIv& iv);
  ~AesGcmStreamEncryptor();
  AesGcmStreamEncryptor(const AesGcmStreamEncryptor&) = delete;
  AesGcmStreamEncryptor& operator=(const AesGcmStreamEncryptor&) = delete;
  // `out` must hold in.size() bytes.
  void Update(ByteSpan in, std::span<uint8_t> out);
  std::array<uint8_t, kGcmTagSize> Finish();

 private:
  void* ctx_;
};

// Decrypt: Update with the ciphertext between IV and tag; plaintext comes out
// unauthenticated, so callers must not trust it until Finish(tag) is true.
class AesGcmStreamDecryptor {
 public:
  AesGcmStreamDecryptor(const SymmetricKey& key, const GcmIv& iv);
  ~AesGcmStreamDecryptor();
  AesGcmStreamDecryptor(const AesGcmStreamDecryptor&) = delete;
  AesGcmStreamDecryptor& operator=(const AesGcmStreamDecryptor&) = delete;
  void Update(ByteSpan in, std::span<uint8_t> out);
  // True if the tag matches everything fed to Update.
  bool Finish(std::span<const uint8_t, kGcmTagSize> tag);

 private:
  void* ctx_;
};

}  // namespace nb::crypto
