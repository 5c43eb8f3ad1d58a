// The compressed form of a P-256 public key (SEC 1 §2.3.3): 02 or 03 (the
// parity of Y) followed by X, 33 bytes. Used where a key must fit a small
// packet (LAN announcements); everywhere else keys travel uncompressed.
#pragma once

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ecdsa.h"

namespace nb::crypto {

constexpr size_t kCompressedPublicKeySize = 33;

Bytes CompressPublicKey(const PublicKey& key);
// Rejects anything that is not 33 bytes starting with 02/03 whose X is on the
// curve (kInvalidArgument). Costs a modular square root: check cheaper things first.
Result<PublicKey> DecompressPublicKey(ByteSpan compressed);

}  // namespace nb::crypto
