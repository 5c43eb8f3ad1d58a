#include "crypto/aead.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "crypto/random.h"

namespace nb::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// One context per thread: creating a GCM context costs more than sealing a
// small payload, and chunk workers seal thousands.
EVP_CIPHER_CTX* ThreadCipherCtx() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  return ctx.get();
}

}  // namespace

void AesGcmEncryptInto(const SymmetricKey& key, const GcmIv& iv, ByteSpan plaintext,
                       std::span<uint8_t> out) {
  if (out.size() != plaintext.size() + kGcmOverhead) {
    throw std::logic_error("AesGcmEncryptInto: wrong output size");
  }
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  std::copy(iv.begin(), iv.end(), out.begin());
  int len = 0;
  bool ok = EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data()) == 1;
  // EVP_EncryptUpdate takes an int length; feed large inputs in slices.
  size_t done = 0;
  while (ok && done < plaintext.size()) {
    size_t n = std::min<size_t>(plaintext.size() - done, 1u << 30);
    ok = EVP_EncryptUpdate(ctx, out.data() + kGcmIvSize + done, &len, plaintext.data() + done,
                           static_cast<int>(n)) == 1;
    done += n;
  }
  ok = ok && EVP_EncryptFinal_ex(ctx, out.data() + kGcmIvSize + plaintext.size(), &len) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                                 out.data() + kGcmIvSize + plaintext.size()) == 1;
  if (!ok) throw std::runtime_error("AES-256-GCM encryption failed");
}

Bytes AesGcmEncryptWithIv(const SymmetricKey& key, const GcmIv& iv, ByteSpan plaintext) {
  Bytes out(plaintext.size() + kGcmOverhead);
  AesGcmEncryptInto(key, iv, plaintext, out);
  return out;
}

Bytes AesGcmEncrypt(const SymmetricKey& key, ByteSpan plaintext) {
  GcmIv iv;
  RandomFill(iv);
  return AesGcmEncryptWithIv(key, iv, plaintext);
}

Result<Bytes> AesGcmDecrypt(const SymmetricKey& key, ByteSpan sealed) {
  if (sealed.size() < kGcmOverhead) {
    return MakeError(ErrorCode::kCrypto, "encrypted data is shorter than IV and tag");
  }
  size_t body = sealed.size() - kGcmOverhead;
  Bytes plain(body);
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), sealed.data()) == 1;
  size_t done = 0;
  while (ok && done < body) {
    size_t n = std::min<size_t>(body - done, 1u << 30);
    ok = EVP_DecryptUpdate(ctx, plain.data() + done, &len, sealed.data() + kGcmIvSize + done,
                           static_cast<int>(n)) == 1;
    done += n;
  }
  // The tag is read from a const buffer; OpenSSL's API wants a mutable pointer.
  uint8_t tag[kGcmTagSize];
  std::copy_n(sealed.data() + kGcmIvSize + body, kGcmTagSize, tag);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, plain.data() + body, &len) == 1;
  if (!ok) {
    return MakeError(ErrorCode::kCrypto, "decryption failed (wrong key or altered data)");
  }
  return plain;
}

namespace {

EVP_CIPHER_CTX* NewGcmContext(const SymmetricKey& key, const GcmIv& iv, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) throw std::runtime_error("EVP_CIPHER_CTX_new failed");
  int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data())
                   : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data());
  if (ok != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("AES-256-GCM initialisation failed");
  }
  return ctx;
}

// GCM is a stream mode: every Update returns exactly its input length.
void GcmUpdate(void* raw, bool encrypt, ByteSpan in, std::span<uint8_t> out) {
  if (out.size() < in.size()) throw std::logic_error("AES-GCM stream: output too small");
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(raw);
  size_t done = 0;
  while (done < in.size()) {
    int n = static_cast<int>(std::min<size_t>(in.size() - done, 1u << 30));
    int len = 0;
    int ok = encrypt ? EVP_EncryptUpdate(ctx, out.data() + done, &len, in.data() + done, n)
                     : EVP_DecryptUpdate(ctx, out.data() + done, &len, in.data() + done, n);
    if (ok != 1 || len != n) throw std::runtime_error("AES-256-GCM update failed");
    done += static_cast<size_t>(n);
  }
}

}  // namespace

AesGcmStreamEncryptor::AesGcmStreamEncryptor(const SymmetricKey& key, const GcmIv& iv)
    : ctx_(NewGcmContext(key, iv, /*encrypt=*/true)) {}
AesGcmStreamEncryptor::~AesGcmStreamEncryptor() {
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_));
}
void AesGcmStreamEncryptor::Update(ByteSpan in, std::span<uint8_t> out) {
  GcmUpdate(ctx_, true, in, out);
}
std::array<uint8_t, kGcmTagSize> AesGcmStreamEncryptor::Finish() {
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(ctx_);
  std::array<uint8_t, kGcmTagSize> tag{};
  uint8_t unused[16];
  int len = 0;
  if (EVP_EncryptFinal_ex(ctx, unused, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagSize, tag.data()) != 1) {
    throw std::runtime_error("AES-256-GCM encryption failed");
  }
  return tag;
}

AesGcmStreamDecryptor::AesGcmStreamDecryptor(const SymmetricKey& key, const GcmIv& iv)
    : ctx_(NewGcmContext(key, iv, /*encrypt=*/false)) {}
AesGcmStreamDecryptor::~AesGcmStreamDecryptor() {
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(ctx_));
}
void AesGcmStreamDecryptor::Update(ByteSpan in, std::span<uint8_t> out) {
  GcmUpdate(ctx_, false, in, out);
}
bool AesGcmStreamDecryptor::Finish(std::span<const uint8_t, kGcmTagSize> tag) {
  auto* ctx = static_cast<EVP_CIPHER_CTX*>(ctx_);
  uint8_t copy[kGcmTagSize];
  std::copy(tag.begin(), tag.end(), copy);
  uint8_t unused[16];
  int len = 0;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagSize, copy) == 1 &&
         EVP_DecryptFinal_ex(ctx, unused, &len) == 1;
}

}  // namespace nb::crypto
