// Event envelopes against the reference's vectors: byte-exact writing,
// lenient reading, and every file-validation case.
#include <gtest/gtest.h>

#include <random>

#include "hub/hub.h"
#include "log/event.h"
#include "testing/test_support.h"

namespace nb::log {
namespace {

using nb::testing::Vectors;

Bytes B64(const std::string& text) {
  auto bytes = Base64Decode(text);
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(Bytes{});
}

TEST(EventVectors, ParseRecomputeVerifyDecryptAndRewriteByteExactly) {
  const auto& section = Vectors()["events"];
  auto key = crypto::PublicKey::FromHex(section["hub"]["publicKeyHex"].get<std::string>());
  ASSERT_TRUE(key.ok());
  crypto::SymmetricKey sym{};
  auto sym_bytes = *HexDecode(section["hub"]["symmetricKeyHex"].get<std::string>());
  std::copy(sym_bytes.begin(), sym_bytes.end(), sym.begin());
  ASSERT_EQ(section["vectors"].size(), 3u);
  for (const auto& v : section["vectors"]) {
    SCOPED_TRACE(v["label"].get<std::string>());
    Bytes file = B64(v["fileBytesB64"]);
    auto parsed = ParseEventFile(file);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(SerializeEnvelope(parsed->envelope), v["envelopeJson"].get<std::string>());
    EXPECT_EQ(HashEnvelope(parsed->envelope).Hex(), v["eventHash"].get<std::string>());
    EXPECT_EQ(Base64Encode(parsed->envelope.ciphertext), v["ciphertextB64"].get<std::string>());
    std::vector<std::string> refs;
    for (const auto& r : parsed->envelope.block_refs) refs.push_back(r.Hex());
    EXPECT_EQ(refs, v["blockRefs"].get<std::vector<std::string>>());
    auto name = crypto::Hash256::FromHex(v["eventHash"].get<std::string>());
    auto valid = ValidateEventFile(*key, *name, file);
    ASSERT_TRUE(valid.ok()) << valid.error().message;
    EXPECT_EQ(HexEncode(valid->signature), v["signatureHex"].get<std::string>());
    auto plain = crypto::AesGcmDecrypt(sym, parsed->envelope.ciphertext);
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(std::string(plain->begin(), plain->end()), v["innerPayloadJson"].get<std::string>());
    // A writer given the same envelope and signature produces the same bytes.
    std::string rewritten = SerializeEventFile(parsed->envelope, parsed->signature);
    EXPECT_EQ(Base64Encode(AsBytes(rewritten)), v["fileBytesB64"].get<std::string>());
    EXPECT_EQ(v["fileName"].get<std::string>(),
              "channels/" + key->Hex() + "/" + v["eventHash"].get<std::string>() + ".bin");
  }
}

TEST(EventVectors, FileValidationCasesMatchTheReference) {
  const auto& cases = Vectors()["events"]["fileValidation"]["cases"];
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["label"].get<std::string>());
    auto key = crypto::PublicKey::FromHex(c["directoryPublicKeyHex"].get<std::string>());
    ASSERT_TRUE(key.ok());
    std::string name = c["fileName"];
    auto hash = crypto::Hash256::FromHex(name.substr(0, 64));
    Rejection rejection{};
    auto result = ValidateEventFile(*key, *hash, B64(c["fileBytesB64"]), &rejection);
    EXPECT_EQ(result.ok(), c["referenceAccepts"].get<bool>())
        << (result.ok() ? "" : result.error().message);
    if (!result.ok() && c.contains("referenceRejectCode") && !c["referenceRejectCode"].is_null()) {
      EXPECT_EQ(RejectionCode(rejection), c["referenceRejectCode"].get<std::string>());
      EXPECT_EQ(result.error().message.rfind(c["referenceRejectCode"].get<std::string>(), 0), 0u);
    }
  }
}

TEST(EventWriter, AppendedEventsHaveTheCanonicalLayout) {
  nb::testing::TempDir dir;
  auto store = std::move(*store::Store::Open({dir.path()}, true));
  auto keys = hub::HubKeys::FromSecret("vectors:event signing");
  ASSERT_TRUE(keys.ok());
  auto hub = std::move(*hub::Hub::Open(store.get(), *keys, true));
  auto ref = crypto::Sha256(AsBytes("a block"));
  auto event = hub->AppendPayload(R"({"type":"MKDIR","path":"d","createdAt":1})", {ref, ref});
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->envelope.block_refs.size(), 1u);  // duplicates removed before signing
  std::string file = nb::testing::ReadText(store->primary().event_path(hub->id(), event->hash));
  std::string envelope = SerializeEnvelope(event->envelope);
  EXPECT_EQ(file.find(R"({"envelope":{"version":"0.2","publicKey":")" + hub->id() +
                      R"(","blockRefs":[")" + ref.Hex() + R"("],"ciphertext":")"),
            0u);
  EXPECT_EQ(file, R"({"envelope":)" + envelope + R"(,"signature":")" +
                      Base64Encode(event->signature) + R"("})");
  EXPECT_EQ(file.find_first_of(" \n\t"), std::string::npos);
  EXPECT_EQ(event->signature.size(), 64u);
  EXPECT_EQ(crypto::Sha256(AsBytes(envelope)), event->hash);
  EXPECT_TRUE(hub->keys().public_key().VerifyDigest(event->hash, event->signature));
  auto payload = hub->DecryptPayload(*event);
  EXPECT_EQ(*payload, R"({"type":"MKDIR","path":"d","createdAt":1})");
}

TEST(EventWriter, DedupKeepsTheFirstOccurrence) {
  auto a = crypto::Sha256(AsBytes("a"));
  auto b = crypto::Sha256(AsBytes("b"));
  auto c = crypto::Sha256(AsBytes("c"));
  auto out = DedupBlockRefs({b, a, b, c, a});
  EXPECT_EQ(out, (std::vector<crypto::Hash256>{b, a, c}));
}

TEST(EventReader, RefusesMalformedFiles) {
  auto key =
      crypto::PublicKey::FromHex(Vectors()["events"]["hub"]["publicKeyHex"].get<std::string>());
  crypto::Hash256 any{};
  for (const char* text :
       {"", "null", "[]", "{}", R"({"envelope":{},"signature":""})",
        R"({"envelope":{"version":"0.2"},"signature":"AA=="})", "\xff\xfe garbage"}) {
    Rejection rejection{};
    auto result = ValidateEventFile(*key, any, AsBytes(text), &rejection);
    EXPECT_FALSE(result.ok()) << text;
    EXPECT_EQ(rejection, Rejection::kDeserializeFailed) << text;
  }
}

// The direct parser of canonical files against the general one: over
// generated files and mutations of them (whitespace, key order, case,
// padding, leftover base64 bits, extra fields, flipped bytes, truncation),
// it either declines or gives the general parse and hash exactly.
TEST(EventReader, CanonicalParserAgreesWithTheGeneralOne) {
  std::mt19937_64 rng(4);
  auto random_bytes = [&](size_t n) {
    Bytes out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng());
    return out;
  };
  auto random_hash = [&] {
    Hash256 h;
    for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
    return h;
  };
  const std::string key_hex = HexEncode(random_bytes(65));
  size_t direct = 0, declined = 0;
  for (int i = 0; i < 4000; ++i) {
    Envelope envelope;
    envelope.public_key_hex = key_hex;
    for (size_t n = rng() % 4; n > 0; --n) envelope.block_refs.push_back(random_hash());
    envelope.ciphertext = random_bytes(rng() % 40);
    std::string file = SerializeEventFile(envelope, random_bytes(64));
    switch (rng() % 12) {
      case 0:
      case 1:
      case 2:
        break;  // as written
      case 3:   // a flipped byte
        file[rng() % file.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 4:  // truncated
        file.resize(rng() % file.size());
        break;
      case 5:  // whitespace somewhere
        file.insert(rng() % file.size(), 1, " \n\t"[rng() % 3]);
        break;
      case 6: {  // a hex digit in upper case
        size_t at = file.find_first_of("abcdef", rng() % file.size());
        if (at != std::string::npos) file[at] = static_cast<char>(file[at] - 'a' + 'A');
        break;
      }
      case 7: {  // the ciphertext's padding or leftover bits changed
        size_t at = file.find("\"},\"signature\"");
        if (at != std::string::npos && file[at - 1] == '=') {
          size_t data = file.find_last_not_of('=', at - 1);
          file[data] = "AQgw/+"[rng() % 6];
        } else if (at != std::string::npos) {
          file.insert(at, "==");
        }
        break;
      }
      case 8: {  // an extra field in the envelope
        size_t at = file.find(",\"ciphertext\"");
        file.insert(at, ",\"x\":1");
        break;
      }
      case 9: {  // envelope keys reordered
        size_t refs = file.find(",\"blockRefs\"");
        size_t ct = file.find(",\"ciphertext\"");
        std::string refs_part = file.substr(refs, ct - refs);
        file.erase(refs, ct - refs);
        size_t end = file.find("\"},\"signature\"") + 1;
        file.insert(end, refs_part);
        break;
      }
      case 10: {  // an escaped character in a string
        size_t at = file.find("\"0.2\"");
        file.replace(at, 5, "\"\\u0030.2\"");
        break;
      }
      default: {  // a signature with an escape, or of odd length
        size_t at = file.rfind('"');
        file.insert(at, rng() % 2 ? "\\/" : "AA");
        break;
      }
    }
    ByteSpan bytes = AsBytes(file);
    Hash256 hash;
    auto fast = ParseCanonicalEventFile(bytes, &hash);
    if (!fast) {
      ++declined;
      continue;
    }
    ++direct;
    auto general = ParseEventFile(bytes);
    ASSERT_TRUE(general.ok()) << file;
    EXPECT_EQ(hash, HashEnvelope(general->envelope)) << file;
    EXPECT_EQ(fast->envelope.public_key_hex, general->envelope.public_key_hex);
    EXPECT_EQ(fast->envelope.block_refs, general->envelope.block_refs);
    EXPECT_EQ(fast->envelope.ciphertext, general->envelope.ciphertext);
    EXPECT_EQ(fast->signature, general->signature) << file;
  }
  EXPECT_GT(direct, 1000u);
  EXPECT_GT(declined, 1000u);
}

}  // namespace
}  // namespace nb::log
