#include "base/bytes.h"

#include <array>

namespace nb {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kB64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Base64EncodeWith(ByteSpan bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

// Character -> 6-bit value, 64 for characters outside the alphabet.
struct Base64Table {
  std::array<uint8_t, 256> value{};
  constexpr explicit Base64Table(const char* alphabet) {
    for (auto& v : value) v = 64;
    for (uint8_t i = 0; i < 64; ++i) value[static_cast<uint8_t>(alphabet[i])] = i;
  }
};
constexpr Base64Table kB64StdTable(kB64Std);
constexpr Base64Table kB64UrlTable(kB64Url);

std::optional<Bytes> Base64DecodeWith(std::string_view text, bool url) {
  // Strip correct padding; reject stray '=' elsewhere.
  size_t pad = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++pad;
  }
  if (pad > 2) return std::nullopt;
  if (pad > 0 && (text.size() + pad) % 4 != 0) return std::nullopt;
  if (text.size() % 4 == 1) return std::nullopt;
  // Event files carry their ciphertext in base64, so a cold replay decodes
  // every byte of a hub's history: whole quads by table, into a sized buffer.
  const auto& table = (url ? kB64UrlTable : kB64StdTable).value;
  const size_t quads = text.size() / 4;
  const size_t rest = text.size() % 4;  // 0, 2 or 3 characters: 0, 1 or 2 bytes
  Bytes out(quads * 3 + (rest == 0 ? 0 : rest - 1));
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  uint8_t* o = out.data();
  for (size_t q = 0; q < quads; ++q, in += 4, o += 3) {
    uint32_t a = table[in[0]], b = table[in[1]], c = table[in[2]], d = table[in[3]];
    if ((a | b | c | d) & 64) return std::nullopt;
    uint32_t v = a << 18 | b << 12 | c << 6 | d;
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  if (rest > 0) {
    uint32_t v = 0;
    for (size_t i = 0; i < rest; ++i) {
      uint32_t x = table[in[i]];
      if (x & 64) return std::nullopt;
      v = v << 6 | x;
    }
    // Leftover bits are ignored, as JavaScript decoders do: the format hashes
    // the canonical re-encoding, so a sloppy encoding of the same bytes is
    // harmless.
    if (rest == 2) {
      o[0] = static_cast<uint8_t>(v >> 4);
    } else {
      o[0] = static_cast<uint8_t>(v >> 10);
      o[1] = static_cast<uint8_t>(v >> 2);
    }
  }
  return out;
}

}  // namespace

std::string HexEncode(ByteSpan bytes) {
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 15];
  }
  return out;
}

std::optional<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

bool IsLowerHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool IsHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

std::string Base64Encode(ByteSpan bytes) { return Base64EncodeWith(bytes, kB64Std, true); }
std::string Base64UrlEncode(ByteSpan bytes) { return Base64EncodeWith(bytes, kB64Url, false); }
std::optional<Bytes> Base64Decode(std::string_view text) { return Base64DecodeWith(text, false); }
std::optional<Bytes> Base64UrlDecode(std::string_view text) { return Base64DecodeWith(text, true); }

}  // namespace nb
