#include <gtest/gtest.h>

#include <random>

#include "base/bytes.h"
#include "base/status.h"

namespace nb {
namespace {

TEST(Hex, RoundTripAndCase) {
  Bytes data = {0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(HexEncode(data), "007fabff");
  EXPECT_EQ(*HexDecode("007FABff"), data);
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
  EXPECT_TRUE(IsLowerHex("00ff", 4));
  EXPECT_FALSE(IsLowerHex("00FF", 4));
  EXPECT_TRUE(IsHex("00FF", 4));
  EXPECT_FALSE(IsHex("00FF", 5));
}

TEST(Base64, MatchesRfc4648Examples) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* std_enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  const char* url_enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Base64Encode(AsBytes(plain[i])), std_enc[i]);
    EXPECT_EQ(Base64UrlEncode(AsBytes(plain[i])), url_enc[i]);
    EXPECT_EQ(*Base64Decode(std_enc[i]), ToBytes(plain[i]));
    EXPECT_EQ(*Base64UrlDecode(url_enc[i]), ToBytes(plain[i]));
  }
}

TEST(Base64, AlphabetsAndMalformedInput) {
  Bytes data = {0xfb, 0xff, 0xfe};
  EXPECT_EQ(Base64Encode(data), "+//+");
  EXPECT_EQ(Base64UrlEncode(data), "-__-");
  EXPECT_FALSE(Base64Decode("-__-").has_value());
  EXPECT_FALSE(Base64UrlDecode("+//+").has_value());
  EXPECT_FALSE(Base64Decode("Zg=").has_value());    // wrong padding
  EXPECT_FALSE(Base64Decode("Z").has_value());      // impossible length
  EXPECT_FALSE(Base64Decode("Zg===").has_value());  // too much padding
  EXPECT_FALSE(Base64Decode("Zm 9v").has_value());  // stray character
}

// The decoder against a plain bit-at-a-time one (the form it replaced) on
// random text over the alphabet, padding and stray characters.
TEST(Base64, DecoderAgreesWithABitAccumulator) {
  auto reference = [](std::string_view text, bool url) -> std::optional<Bytes> {
    size_t pad = 0;
    while (!text.empty() && text.back() == '=') {
      text.remove_suffix(1);
      ++pad;
    }
    if (pad > 2 || (pad > 0 && (text.size() + pad) % 4 != 0) || text.size() % 4 == 1) {
      return std::nullopt;
    }
    std::string_view alphabet =
        url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    Bytes out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
      size_t v = alphabet.find(c);
      if (v == std::string_view::npos) return std::nullopt;
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
      }
    }
    return out;
  };
  std::mt19937 rng(64);
  const std::string chars = "AQgwZz09+/-_== \x80";
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 14, 'A');
    for (char& c : text) c = chars[rng() % chars.size()];
    for (bool url : {false, true}) {
      auto got = url ? Base64UrlDecode(text) : Base64Decode(text);
      EXPECT_EQ(got, reference(text, url)) << text;
    }
  }
  for (size_t n = 0; n < 40; ++n) {
    Bytes data(n);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    EXPECT_EQ(*Base64Decode(Base64Encode(data)), data);
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(data)), data);
  }
}

TEST(Result, CarriesValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = MakeError(ErrorCode::kNotFound, "missing");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(bad.error().WithContext("ctx").message, "ctx: missing");
}

}  // namespace
}  // namespace nb
