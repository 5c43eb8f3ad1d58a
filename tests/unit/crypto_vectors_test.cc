// Every crypto vector of ../shared/interop/vectors.json, produced by the
// reference's own nearbytes-crypto, plus round trips and RFC known answers.
#include <gtest/gtest.h>

#include <map>

#include "crypto/aead.h"
#include "crypto/ecdsa.h"
#include "crypto/kdf.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "hub/secret.h"
#include "testing/test_support.h"

namespace nb::crypto {
namespace {

using nb::testing::Vectors;

Bytes Hex(const std::string& hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes.value_or(Bytes{});
}

SymmetricKey KeyFromHex(const std::string& hex) {
  Bytes bytes = Hex(hex);
  SymmetricKey key{};
  EXPECT_EQ(bytes.size(), key.size());
  std::copy_n(bytes.begin(), std::min(bytes.size(), key.size()), key.begin());
  return key;
}

Bytes PatternData(size_t size) {
  Bytes data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i % 251);
  return data;
}

TEST(KeyVectors, SecretsDeriveTheReferenceKeys) {
  const auto& vectors = Vectors()["keys"]["vectors"];
  ASSERT_GE(vectors.size(), 6u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v["label"].get<std::string>());
    auto secret = hub::ParseSecret(v["secret"].get<std::string>());
    ASSERT_TRUE(secret.ok()) << secret.error().message;
    if (v.contains("secretUtf8Hex") && !v["secret"].get<std::string>().starts_with("nb-file")) {
      EXPECT_EQ(HexEncode(secret->bytes), v["secretUtf8Hex"].get<std::string>());
    }
    if (v["displayName"].is_null()) {
      EXPECT_FALSE(secret->display_name.has_value());
    } else {
      EXPECT_EQ(secret->display_name.value_or(""), v["displayName"].get<std::string>());
    }
    auto keys = DeriveKeys(secret->bytes);
    ASSERT_TRUE(keys.ok());
    EXPECT_EQ(HexEncode(keys->seed), v["pbkdf2SeedHex"].get<std::string>());
    EXPECT_EQ(HexEncode(keys->scalar), v["privateScalarHex"].get<std::string>());
    EXPECT_EQ(keys->signing_key.public_key().Hex(), v["publicKeyHex"].get<std::string>());
    EXPECT_EQ(HexEncode(keys->symmetric_key), v["symmetricKeyHex"].get<std::string>());
  }
}

TEST(AesGcmVectors, DecryptsEveryReferenceCiphertext) {
  const auto& section = Vectors()["aes256gcm"];
  SymmetricKey key = KeyFromHex(section["keyHex"]);
  ASSERT_FALSE(section["decrypt"].empty());
  for (const auto& v : section["decrypt"]) {
    SCOPED_TRACE(v["label"].get<std::string>());
    Bytes sealed = Hex(v["encryptedHex"]);
    EXPECT_EQ(HexEncode(ByteSpan(sealed).first(12)), v["ivHex"].get<std::string>());
    EXPECT_EQ(HexEncode(ByteSpan(sealed).last(16)), v["tagHex"].get<std::string>());
    auto plain = AesGcmDecrypt(key, sealed);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(HexEncode(*plain), v["plaintextHex"].get<std::string>());
  }
}

TEST(AesGcmVectors, RefusesEveryAlteredCiphertext) {
  const auto& section = Vectors()["aes256gcm"];
  ASSERT_FALSE(section["mustFail"].empty());
  for (const auto& v : section["mustFail"]) {
    SCOPED_TRACE(v["label"].get<std::string>());
    SymmetricKey key = KeyFromHex(v.contains("keyHex") ? v["keyHex"] : section["keyHex"]);
    auto plain = AesGcmDecrypt(key, Hex(v["encryptedHex"]));
    EXPECT_FALSE(plain.ok());
  }
}

TEST(AesGcm, RoundTripsAndUsesFreshIvs) {
  SymmetricKey key{};
  RandomFill(key);
  for (size_t size : {0u, 1u, 15u, 16u, 17u, 4096u, 1u << 20}) {
    Bytes plain = PatternData(size);
    Bytes a = AesGcmEncrypt(key, plain);
    Bytes b = AesGcmEncrypt(key, plain);
    ASSERT_EQ(a.size(), size + kGcmOverhead);
    EXPECT_NE(a, b);  // random IVs
    EXPECT_EQ(*AesGcmDecrypt(key, a), plain);
    a.back() ^= 1;
    EXPECT_FALSE(AesGcmDecrypt(key, a).ok());
  }
  GcmIv iv{};
  EXPECT_EQ(AesGcmEncryptWithIv(key, iv, PatternData(100)),
            AesGcmEncryptWithIv(key, iv, PatternData(100)));
}

TEST(SignatureVectors, ValidOnesVerifyInvalidOnesDoNot) {
  const auto& section = Vectors()["signatures"];
  ASSERT_FALSE(section["valid"].empty());
  int high_s = 0;
  for (const auto& v : section["valid"]) {
    auto key = PublicKey::FromHex(v["publicKeyHex"].get<std::string>());
    ASSERT_TRUE(key.ok());
    Bytes message = Hex(v["messageHex"]);
    EXPECT_EQ(Sha256(message).Hex(), v["sha256"].get<std::string>());
    Bytes sig = Hex(v["signatureHex"]);
    EXPECT_TRUE(key->Verify(message, sig)) << v["signatureHex"];
    EXPECT_EQ(Base64Encode(sig), v["signatureB64"].get<std::string>());
    EXPECT_EQ(Base64UrlEncode(sig), v["signatureB64url"].get<std::string>());
    if (v.value("sIsHigh", false)) ++high_s;
  }
  EXPECT_GT(high_s, 0);  // high-S signatures are accepted
  for (const auto& v : section["invalid"]) {
    SCOPED_TRACE(v["label"].get<std::string>());
    auto key = PublicKey::FromHex(v["publicKeyHex"].get<std::string>());
    ASSERT_TRUE(key.ok());
    EXPECT_FALSE(key->Verify(Hex(v["messageHex"]), Hex(v["signatureHex"])));
  }
  for (const auto& v : section["referenceAlsoAccepts"]) {
    auto key = PublicKey::FromHex(v["publicKeyHex"].get<std::string>());
    EXPECT_TRUE(key->Verify(Hex(v["messageHex"]), Hex(v["signatureDerHex"])));
  }
}

TEST(Ecdsa, SignVerifyRoundTripAndMalformedInput) {
  Scalar scalar{};
  scalar[31] = 7;
  auto key = PrivateKey::FromScalar(scalar);
  ASSERT_TRUE(key.ok());
  Bytes message = ToBytes("a message");
  Signature sig = key->Sign(message);
  EXPECT_TRUE(key->public_key().Verify(message, sig));
  EXPECT_FALSE(key->public_key().Verify(ToBytes("another"), sig));
  EXPECT_FALSE(key->public_key().Verify(message, ByteSpan(sig).first(63)));
  EXPECT_FALSE(key->public_key().Verify(message, Bytes(64, 0)));
  Scalar zero{};
  EXPECT_FALSE(PrivateKey::FromScalar(zero).ok());
  EXPECT_FALSE(PublicKey::FromHex("04" + std::string(128, '0')).ok());  // not on the curve
  EXPECT_FALSE(PublicKey::FromHex("zz").ok());
}

// r||s is turned into minimal DER by hand: r and s with leading zero bytes
// (about 1 in 256 signatures) and with the high bit set (half of them) must
// verify, and keys used in turn on one thread must not mix up.
TEST(Ecdsa, EveryShapeOfROrSVerifies) {
  Scalar a_scalar{}, b_scalar{};
  a_scalar[31] = 11;
  b_scalar[31] = 13;
  auto a = PrivateKey::FromScalar(a_scalar);
  auto b = PrivateKey::FromScalar(b_scalar);
  ASSERT_TRUE(a.ok() && b.ok());
  bool r_zero = false, s_zero = false, r_high = false, s_high = false;
  for (int i = 0; i < 6000 && !(r_zero && s_zero && r_high && s_high); ++i) {
    Hash256 digest = Sha256(ToBytes("message " + std::to_string(i)));
    Signature sig = a->SignDigest(digest);
    bool notable = (sig[0] == 0 && !r_zero) || (sig[32] == 0 && !s_zero) ||
                   (sig[0] >= 0x80 && !r_high) || (sig[32] >= 0x80 && !s_high) || i < 50;
    if (!notable) continue;
    r_zero |= sig[0] == 0;
    s_zero |= sig[32] == 0;
    r_high |= sig[0] >= 0x80;
    s_high |= sig[32] >= 0x80;
    EXPECT_TRUE(a->public_key().VerifyDigest(digest, sig)) << i;
    EXPECT_FALSE(b->public_key().VerifyDigest(digest, sig)) << i;
    Signature flipped = sig;
    flipped[63] ^= 1;
    EXPECT_FALSE(a->public_key().VerifyDigest(digest, flipped)) << i;
  }
  EXPECT_TRUE(r_zero && s_zero && r_high && s_high);
  Signature zero_r{};
  std::fill(zero_r.begin() + 32, zero_r.end(), 0x11);
  EXPECT_FALSE(a->public_key().VerifyDigest(Sha256(ToBytes("x")), zero_r));
}

TEST(HashVectors, Sha256OneShotAndStreamingMatchTheReference) {
  const auto& vectors = Vectors()["hashes"]["vectors"];
  ASSERT_FALSE(vectors.empty());
  for (const auto& v : vectors) {
    size_t size = v["size"].get<size_t>();
    Bytes data =
        v.contains("dataUtf8") ? ToBytes(v["dataUtf8"].get<std::string>()) : PatternData(size);
    ASSERT_EQ(data.size(), size);
    EXPECT_EQ(Sha256(data).Hex(), v["sha256"].get<std::string>()) << size;
    Sha256Stream stream;
    size_t done = 0, step = 1;
    while (done < size) {
      size_t n = std::min(step, size - done);
      stream.Update(ByteSpan(data).subspan(done, n));
      done += n;
      step = step * 3 + 1;  // odd-sized pieces
    }
    EXPECT_EQ(stream.Finish().Hex(), v["sha256"].get<std::string>()) << size;
  }
}

TEST(Kdf, KnownAnswers) {
  // RFC 5869 test case 1.
  Bytes okm = HkdfSha256(Hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                         Hex("000102030405060708090a0b0c"), Hex("f0f1f2f3f4f5f6f7f8f9"), 42);
  EXPECT_EQ(HexEncode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  // RFC 5869 test case 3: no salt.
  Bytes okm3 = HkdfSha256(Hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, {}, 42);
  EXPECT_EQ(HexEncode(okm3),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  // RFC 7914 §11: PBKDF2-HMAC-SHA256("passwd", "salt", 1, 64).
  Bytes dk = Pbkdf2Sha256(ToBytes("passwd"), ToBytes("salt"), 1, 64);
  EXPECT_EQ(HexEncode(dk).substr(0, 32), "55ac046e56e3089fec1691c22544b605");
}

// The fast PBKDF2 (pad states once, two compressions per iteration) gives
// what OpenSSL's one-call form gives: short, 64-byte and long passwords,
// empty ones, one and several output blocks, one and many iterations.
TEST(Kdf, FastPbkdf2MatchesOpenSsl) {
  for (size_t password_size : {0, 1, 17, 64, 65, 200}) {
    for (uint32_t iterations : {1u, 2u, 1000u}) {
      for (size_t length : {1, 32, 33, 64, 100}) {
        Bytes password = RandomBytes(password_size);
        Bytes salt = RandomBytes(24);
        EXPECT_EQ(Pbkdf2Sha256(password, salt, iterations, length),
                  Pbkdf2Sha256Generic(password, salt, iterations, length))
            << password_size << " " << iterations << " " << length;
      }
    }
  }
}

TEST(Random, ConstantTimeEquals) {
  Bytes a = RandomBytes(32);
  Bytes b = a;
  EXPECT_TRUE(ConstantTimeEquals(a, b));
  b[31] ^= 1;
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  EXPECT_FALSE(ConstantTimeEquals(a, ByteSpan(a).first(31)));
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

}  // namespace
}  // namespace nb::crypto
