// Byte buffers and the text encodings the format uses: lower-case hex,
// standard base64 with padding ("b64") and URL-safe base64 without padding
// ("b64url").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace nb {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline ByteSpan AsBytes(std::string_view text) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}
inline std::string_view AsChars(ByteSpan bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
inline Bytes ToBytes(std::string_view text) {
  ByteSpan span = AsBytes(text);
  return Bytes(span.begin(), span.end());
}

std::string HexEncode(ByteSpan bytes);
// Accepts upper- and lower-case digits; nullopt on odd length or a non-hex character.
std::optional<Bytes> HexDecode(std::string_view hex);
// True if `text` is exactly `length` lower-case hex digits.
bool IsLowerHex(std::string_view text, size_t length);
// True if `text` is exactly `length` hex digits of either case.
bool IsHex(std::string_view text, size_t length);

std::string Base64Encode(ByteSpan bytes);     // standard alphabet, padded
std::string Base64UrlEncode(ByteSpan bytes);  // URL-safe alphabet, unpadded
// Strict standard base64 (padding optional but must be correct when present).
std::optional<Bytes> Base64Decode(std::string_view text);
// URL-safe base64; padding tolerated.
std::optional<Bytes> Base64UrlDecode(std::string_view text);

}  // namespace nb
