// Secret -> hub keys (FORMAT.md §1). The same derivation yields a person's
// identity key from their identity secret.
#pragma once

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/aead.h"
#include "crypto/ecdsa.h"

namespace nb::crypto {

constexpr uint32_t kSecretPbkdf2Iterations = 100000;

struct DerivedKeys {
  Bytes seed;            // PBKDF2 output, kept for diagnostics and vectors
  Scalar scalar{};       // seed mod n (0 becomes 1)
  PrivateKey signing_key;
  SymmetricKey symmetric_key{};
};

// `secret_bytes` are the raw secret bytes (already decoded from a secret file
// form if needed). Costs one 100k-iteration PBKDF2.
Result<DerivedKeys> DeriveKeys(ByteSpan secret_bytes);

}  // namespace nb::crypto
