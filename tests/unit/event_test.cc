// Event envelopes against the reference's vectors: byte-exact writing,
// lenient reading, and every file-validation case.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace nb::log
