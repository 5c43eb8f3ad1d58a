#include <gtest/gtest.h>

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
