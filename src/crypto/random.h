// Cryptographically secure randomness and constant-time comparison.
#pragma once

#include <span>

#include "base/bytes.h"

namespace nb::crypto {

void RandomFill(std::span<uint8_t> out);
Bytes RandomBytes(size_t size);
// Compares without leaking where the first difference is.
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

}  // namespace nb::crypto
