#include "crypto/random.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace nb::crypto {

void RandomFill(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
}

Bytes RandomBytes(size_t size) {
  Bytes out(size);
  RandomFill(out);
  return out;
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace nb::crypto
