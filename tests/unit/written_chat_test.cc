// The direct chat decoder (apps/chat/written_chat.h) against the general
// path it shortcuts (files::DecodeEvent, state::KindOf, DecodeChatEvent):
// over many generated payloads — written ones with awkward bodies, and
// mutations of them (escapes, extra, missing and reordered fields, author
// claims, other hubs, bad signatures, odd numbers, flipped bytes) — the
// direct decoder either declines or gives exactly the general answer.
#include "apps/chat/written_chat.h"

#include <gtest/gtest.h>

#include <random>

#include "apps/canonical_json.h"
#include "apps/state/event_index.h"

namespace nb::apps::chat {
namespace {

using Json = nlohmann::json;

crypto::PrivateKey KeyFromByte(uint8_t seed) {
  crypto::Scalar scalar{};
  scalar.fill(seed);
  return *crypto::PrivateKey::FromScalar(scalar);
}

const crypto::PrivateKey& HubKey() {
  static const crypto::PrivateKey key = KeyFromByte(0x41);
  return key;
}
const crypto::PrivateKey& OtherKey() {
  static const crypto::PrivateKey key = KeyFromByte(0x42);
  return key;
}

struct General {
  std::optional<files::DecodedEvent> event;
  state::EventKind kind = state::kKindOther;
  ChatDecode chat = ChatDecode::kNotChat;
  ChatMessage message;
};

General DecodeGenerally(const Hash256& hash, const std::vector<Hash256>& refs,
                        const std::string& payload) {
  General out;
  out.event = files::DecodeEvent(hash, refs, payload);
  if (!out.event) return out;
  out.kind = state::KindOf(*out.event);
  out.chat = DecodeChatEvent(HubKey().public_key(), *out.event, &out.message);
  return out;
}

// Whether the direct decoder answered; fails the test if it disagrees.
bool Agrees(const std::string& payload) {
  const Hash256 hash = crypto::Sha256(AsBytes(payload));
  const std::vector<Hash256> refs = {crypto::Sha256(AsBytes("a ref"))};
  auto direct =
      DecodeWrittenChat(HubKey().public_key(), HubKey().public_key().Hex(), hash, refs, payload);
  if (!direct) return false;
  General general = DecodeGenerally(hash, refs, payload);
  EXPECT_TRUE(general.event.has_value()) << payload;
  if (!general.event) return true;
  EXPECT_EQ(general.event->hash, direct->event.hash);
  EXPECT_EQ(general.event->timestamp, direct->event.timestamp) << payload;
  EXPECT_EQ(general.event->block_refs, direct->event.block_refs);
  EXPECT_FALSE(general.event->files.has_value());
  EXPECT_EQ(general.event->app_payload, direct->event.app_payload);
  EXPECT_EQ(general.kind, state::kKindChat) << payload;
  EXPECT_EQ(general.chat, ChatDecode::kMessage) << payload;
  EXPECT_EQ(general.message, direct->message) << payload;
  return true;
}

// Bodies that stress escaping, trimming and UTF-8.
std::string RandomBody(std::mt19937_64& rng) {
  static const std::vector<std::string> pieces = {"hello",
                                                  " ",
                                                  "\"",
                                                  "\\",
                                                  "\n",
                                                  "\t",
                                                  "\r",
                                                  "\b",
                                                  "\f",
                                                  std::string(1, '\0'),
                                                  "\x01",
                                                  "\x1f",
                                                  "\x7f",
                                                  "/",
                                                  "\\u0041",
                                                  "é",
                                                  "日本",
                                                  "\xF0\x9F\x98\x80",
                                                  "\xC2\xA0",
                                                  "\xE2\x80\xA8",
                                                  "\xEF\xBB\xBF",
                                                  "{\"k\":1}",
                                                  "\\\"",
                                                  "sig",
                                                  ",\"ts\":1",
                                                  "}",
                                                  "'"};
  std::string body;
  size_t n = rng() % 8;
  for (size_t i = 0; i < n; ++i) body += pieces[rng() % pieces.size()];
  return body;
}

std::string Written(const std::string& body, int64_t ts) {
  auto payload = BuildChatPayload(HubKey(), body, ts);
  return payload.ok() ? *payload : std::string();
}

// A mutation of a written payload, through its JSON (record fields changed,
// fields added or reordered, a/as claims) or of its bytes.
std::string Mutate(const std::string& payload, std::mt19937_64& rng) {
  Json doc = Json::parse(payload);
  Json record = Json::parse(doc["record"].get<std::string>());
  switch (rng() % 17) {
    case 0:  // an extra record field
      record["x"] = "extra";
      break;
    case 1:  // an author claim, signed or forged
      record["a"] = OtherKey().public_key().Hex();
      if (rng() % 2) record["as"] = Base64UrlEncode(OtherKey().Sign(AsBytes("other")));
      break;
    case 2:  // another hub's record
      record["k"] = OtherKey().public_key().Hex();
      break;
    case 3: {  // the key in capitals
      std::string k = record["k"].get<std::string>();
      for (char& c : k) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      record["k"] = k;
      break;
    }
    case 4:  // a signature by someone else
      record["sig"] = Base64UrlEncode(OtherKey().Sign(AsBytes("x")));
      break;
    case 5:  // ts as a float, negative, or huge
      record["ts"] = std::vector<Json>{1.5, -3, int64_t{1} << 60, 0}[rng() % 4];
      break;
    case 6:  // another protocol
      record["p"] = "nb.chat.message.v2";
      break;
    case 7: {  // the record written with its keys in another order
      std::string text = "{\"ts\":" + record["ts"].dump() +
                         ",\"body\":" + JsonString(record["body"].get<std::string>()) +
                         ",\"k\":\"" + record["k"].get<std::string>() + "\",\"p\":\"" +
                         record["p"].get<std::string>() + "\",\"sig\":\"" +
                         record["sig"].get<std::string>() + "\"}";
      doc["record"] = text;
      return doc.dump();
    }
    case 8:  // payload keys reordered (nlohmann sorts them)
      return doc.dump();
    case 9: {  // publishedAt written oddly
      static const std::vector<std::string> odd = {
          "0", "-1", "1e3", "1.0", "\"12\"", "18014398509481984", "01", "999999999999999"};
      std::string bytes = payload;
      size_t at = bytes.rfind("\"publishedAt\":") + 14;
      bytes.replace(at, bytes.size() - 1 - at, odd[rng() % odd.size()]);
      return bytes;
    }
    case 10: {  // a flipped byte
      std::string bytes = payload;
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
      return bytes;
    }
    case 11: {  // truncated
      return payload.substr(0, rng() % payload.size());
    }
    case 12: {  // the record signed over its literal form (sig over all but sig)
      Json unsigned_record = record;
      unsigned_record.erase("sig");
      record["sig"] = Base64UrlEncode(HubKey().Sign(AsBytes(CanonicalJson(unsigned_record))));
      break;
    }
    case 13:  // the old payload type
      doc["type"] = "CHAT_MESSAGE";
      return doc.dump();
    case 14: {  // a non-canonical escape of an ASCII letter in the record
      std::string text = CanonicalJson(record);
      auto at = text.find("\"k\"");
      text.replace(at, 3, "\"\\u006b\"");
      doc["record"] = text;
      return AppRecordPayload(kChatProtocol, text, doc["authorPublicKey"].get<std::string>(),
                              doc["publishedAt"].get<int64_t>());
    }
    case 15: {  // a body escaped or padded oddly, signed over exactly those bytes
      static const std::vector<std::string> odd = {
          "\\u0008", "\\u000a", "\\u000A", "\\/",      "\\u0041", "\\u00e9", "\\b",  "\\n",
          "\\u001f", "\\u001F", " ",       "\xC2\xA0", "x",       "\\\"",    "\\\\", "\x7f"};
      std::string raw;
      for (size_t n = 1 + rng() % 4; n > 0; --n) raw += odd[rng() % odd.size()];
      std::string tail =
          "\",\"k\":\"" + record["k"].get<std::string>() + "\",\"p\":\"nb.chat.message.v1\"";
      std::string ts = record["ts"].dump();
      std::string signed_form = "{\"body\":\"" + raw + tail + ",\"ts\":" + ts + "}";
      std::string sig = Base64UrlEncode(HubKey().Sign(AsBytes(signed_form)));
      std::string text =
          "{\"body\":\"" + raw + tail + ",\"sig\":\"" + sig + "\",\"ts\":" + ts + "}";
      return AppRecordPayload(kChatProtocol, text, doc["authorPublicKey"].get<std::string>(),
                              doc["publishedAt"].get<int64_t>());
    }
    default:  // a padded signature
      record["sig"] = record["sig"].get<std::string>() + "==";
      break;
  }
  return AppRecordPayload(kChatProtocol, CanonicalJson(record),
                          doc["authorPublicKey"].get<std::string>(),
                          doc["publishedAt"].get<int64_t>());
}

TEST(WrittenChat, PlainWrittenMessagesAreDecodedDirectly) {
  for (std::string body : {"hello", "a \"quoted\" word", "two\nlines", "tab\there", "back\\slash",
                           "ctrl \x01 \x1f", "日本語 😀", "é"}) {
    std::string payload = Written(body, 1700000000123);
    EXPECT_TRUE(Agrees(payload)) << body;
  }
}

TEST(WrittenChat, AgreesWithTheGeneralDecoderOnGeneratedPayloads) {
  std::mt19937_64 rng(14);
  size_t direct = 0, declined = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string body = RandomBody(rng);
    int64_t ts = static_cast<int64_t>(rng() % 2000000000000);
    std::string payload = Written(body, ts);
    if (payload.empty()) continue;  // an empty or whitespace body cannot be written
    std::string candidate = rng() % 3 == 0 ? payload : Mutate(payload, rng);
    (Agrees(candidate) ? direct : declined)++;
  }
  // Both sides of the shortcut are exercised.
  EXPECT_GT(direct, 500u);
  EXPECT_GT(declined, 500u);
}

TEST(WrittenChat, DeclinesWhatItDoesNotDecide) {
  const auto& hub = HubKey();
  std::string ok = Written("hello", 5);
  ASSERT_TRUE(Agrees(ok));
  // Padded and trimmed bodies, forged signatures, author claims, another
  // hub: the general path decides them (shown unverified, forged, ...).
  Json record = Json::parse(Json::parse(ok)["record"].get<std::string>());
  Json forged = record;
  forged["body"] = "goodbye";
  std::string forged_payload =
      AppRecordPayload(kChatProtocol, CanonicalJson(forged), hub.public_key().Hex(), 5);
  EXPECT_FALSE(Agrees(forged_payload));
  ChatMessage message;
  auto event = files::DecodeEvent(crypto::Sha256(AsBytes(forged_payload)), {}, forged_payload);
  ASSERT_TRUE(event);
  ASSERT_EQ(DecodeChatEvent(hub.public_key(), *event, &message), ChatDecode::kMessage);
  EXPECT_FALSE(message.verified);

  Json padded = record;
  padded["body"] = " hello ";
  EXPECT_FALSE(
      Agrees(AppRecordPayload(kChatProtocol, CanonicalJson(padded), hub.public_key().Hex(), 5)));
  EXPECT_FALSE(Agrees(ok + " "));
  EXPECT_FALSE(Agrees(" " + ok));
  std::string leading_zero = ok;
  leading_zero.replace(leading_zero.rfind(":5}"), 3, ":05}");
  EXPECT_FALSE(Agrees(leading_zero));
}

}  // namespace
}  // namespace nb::apps::chat
