// The CHAT and PROFILE readings: canonical JSON against the reference's
// vectors, the corpus timeline against its expected file, author
// signatures (signed, missing, forged), identity records, and replay
// order-independence.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <random>

#include "apps/canonical_json.h"
#include "apps/chat/chat_reading.h"
#include "apps/hub_timeline.h"
#include "apps/profile/identity.h"
#include "apps/profile/profile_reading.h"
#include "hub/secret.h"
#include "log/channel_watcher.h"
#include "testing/test_support.h"

namespace nb::apps::chat {
namespace {

using Json = nlohmann::json;
using nb::testing::InteropDir;
using nb::testing::LoadJson;
using nb::testing::TempDir;
using profile::ProfileReading;

crypto::PrivateKey KeyFromByte(uint8_t seed) {
  crypto::Scalar scalar{};
  scalar.fill(seed);
  return *crypto::PrivateKey::FromScalar(scalar);
}

// A decoded event as LoadTimeline would give it; the "event hash" is any
// unique value (here the payload's SHA-256).
DecodedEvent EventFor(const std::string& payload) {
  auto event = files::DecodeEvent(crypto::Sha256(AsBytes(payload)), {}, payload);
  EXPECT_TRUE(event.has_value()) << payload;
  return *event;
}

std::string RecordOf(const std::string& payload) {
  return Json::parse(payload)["record"].get<std::string>();
}

std::string PayloadWithRecord(const crypto::PrivateKey& hub, const Json& record, int64_t at) {
  return AppRecordPayload(kChatProtocol, CanonicalJson(record), hub.public_key().Hex(), at);
}

// "prefix" + number (spelled out: GCC 12 warns falsely on the + form).
std::string Label(const char* prefix, int64_t n) {
  std::string out = prefix;
  out += std::to_string(n);
  return out;
}

struct Keys {
  crypto::PrivateKey hub = KeyFromByte(0x11);
  crypto::PrivateKey ada = KeyFromByte(0x22);
  crypto::PrivateKey bob = KeyFromByte(0x33);
};
const Keys& K() {
  static const Keys keys;
  return keys;
}

// ---- canonical JSON (vectors.json → chatCanonicalJson) ---------------------

TEST(CanonicalJson, ReproducesEveryReferenceExampleByteExactly) {
  const Json vectors = nb::testing::Vectors()["chatCanonicalJson"];
  auto hub_key = crypto::PublicKey::FromHex(vectors["hub"]["publicKeyHex"].get<std::string>());
  ASSERT_TRUE(hub_key.ok());
  ASSERT_EQ(vectors["examples"].size(), 8u);
  for (const auto& example : vectors["examples"]) {
    const std::string body = example["body"].get<std::string>();
    const Bytes expected = *HexDecode(example["unsignedCanonicalUtf8Hex"].get<std::string>());
    // From the fields, as a writer builds it.
    Json parsed_unsigned = Json::parse(example["unsignedCanonical"].get<std::string>());
    Json unsigned_record = Json::object();
    unsigned_record["body"] = body;
    unsigned_record["k"] = hub_key->Hex();
    unsigned_record["p"] = "nb.chat.message.v1";
    unsigned_record["ts"] = parsed_unsigned["ts"].get<int64_t>();
    std::string canonical = CanonicalJson(unsigned_record);
    EXPECT_EQ(Bytes(canonical.begin(), canonical.end()), expected) << body;
    EXPECT_EQ(canonical, example["unsignedCanonical"].get<std::string>());
    // Re-serializing the parsed record gives back the exact record text.
    const std::string record = example["record"].get<std::string>();
    EXPECT_EQ(CanonicalJson(Json::parse(record)), record) << body;
    // The signature covers exactly these bytes.
    auto sig = Base64UrlDecode(example["sigB64url"].get<std::string>());
    ASSERT_TRUE(sig.has_value());
    EXPECT_TRUE(hub_key->Verify(AsBytes(canonical), *sig)) << body;
    Json tampered = unsigned_record;
    tampered["body"] = body + " ";
    EXPECT_FALSE(hub_key->Verify(AsBytes(CanonicalJson(tampered)), *sig)) << body;
  }
}

TEST(CanonicalJson, ReferenceExamplesReadAsVerifiedMessages) {
  const Json vectors = nb::testing::Vectors()["chatCanonicalJson"];
  auto hub_key = *crypto::PublicKey::FromHex(vectors["hub"]["publicKeyHex"].get<std::string>());
  ChatReading reading(hub_key);
  for (const auto& example : vectors["examples"]) {
    std::string record = example["record"].get<std::string>();
    int64_t ts = Json::parse(record)["ts"].get<int64_t>();
    auto added =
        reading.Apply(EventFor(AppRecordPayload(kChatProtocol, record, hub_key.Hex(), ts)));
    ASSERT_TRUE(added.has_value());
    EXPECT_TRUE(added->verified) << example["body"];
    EXPECT_EQ(added->body, example["body"].get<std::string>());
    EXPECT_EQ(added->author_status, AuthorStatus::kHubMember);
  }
  EXPECT_EQ(reading.messages().size(), 8u);
}

TEST(CanonicalJson, EscapingRules) {
  EXPECT_EQ(JsonString(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\x7f\"");
  EXPECT_EQ(JsonString("\b\t\n\f\r\"\\/"), "\"\\b\\t\\n\\f\\r\\\"\\\\/\"");
  EXPECT_EQ(JsonString("\u2028\u2029é</script>"), "\"\u2028\u2029é</script>\"");
  Json nested = Json::parse(R"({"z":1,"a":{"y":[true,null,"x"],"b":2.0},"M":-3})");
  EXPECT_EQ(CanonicalJson(nested), R"({"M":-3,"a":{"b":2,"y":[true,null,"x"]},"z":1})");
}

TEST(CanonicalJson, TrimMatchesJavaScript) {
  EXPECT_EQ(TrimJs(" \t\n\r\v\f hi \u00a0\u3000\ufeff\u2028"), "hi");
  EXPECT_EQ(TrimJs("\u200b x"), "\u200b x");  // U+200B is not white space in JS
  EXPECT_EQ(TrimJs("   "), "");
  EXPECT_EQ(TrimJs("a b"), "a b");
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_TRUE(IsValidUtf8("emoji 👩‍💻"));
}

// ---- the corpus ------------------------------------------------------------

TEST(ChatCorpus, TimelineEqualsExpected) {
  TempDir dir;
  nb::testing::CopyTree(InteropDir() / "hub-public", dir.path());
  auto store = store::Store::Open({dir.path()}, false);
  ASSERT_TRUE(store.ok());
  auto keys = hub::HubKeys::FromSecret("interop-public:correct horse");
  ASSERT_TRUE(keys.ok());
  auto hub = hub::Hub::Open(store->get(), std::move(*keys), false);
  ASSERT_TRUE(hub.ok());
  auto timeline = LoadTimeline(**hub);
  ASSERT_TRUE(timeline.ok());
  ChatReading reading = ChatReading::Replay((*hub)->keys().public_key(), timeline->events);

  Json got = Json::array();
  for (const auto& m : reading.messages()) {
    got.push_back(Json{{"ts", m.ts},
                       {"publishedAt", m.published_at},
                       {"body", m.body},
                       {"eventHash", m.event_hash.Hex()},
                       {"verified", m.verified}});
    EXPECT_EQ(m.author_status, AuthorStatus::kHubMember);
  }
  auto expected = LoadJson(InteropDir() / "hub-public.expected.json")["chat"];
  EXPECT_EQ(got, expected);
  EXPECT_EQ(reading.skipped(), 0u);
  ProfileReading profiles = ProfileReading::Replay(timeline->events);
  EXPECT_TRUE(profiles.identities().empty());
  for (const auto& m : reading.messages()) {
    EXPECT_EQ(DescribeAuthor(m, profiles).label, "hub member");
  }
}

// ---- our own messages -------------------------------------------------------

TEST(ChatMessages, OwnMessageWithAuthorRoundTrips) {
  const auto& k = K();
  auto payload = BuildChatPayload(k.hub, "  hello\tthere \n", 1000, &k.ada);
  ASSERT_TRUE(payload.ok());
  // Key order of the payload is the reference's.
  EXPECT_EQ(
      payload->rfind("{\"type\":\"APP_RECORD\",\"protocol\":\"nb.chat.message.v1\",\"record\":", 0),
      0u);
  EXPECT_NE(payload->find(",\"authorPublicKey\":\"" + k.hub.public_key().Hex() +
                          "\",\"publishedAt\":1000}"),
            std::string::npos);
  Json record = Json::parse(RecordOf(*payload));
  EXPECT_EQ(CanonicalJson(record), RecordOf(*payload));
  EXPECT_EQ(record["body"], "hello\tthere");
  EXPECT_EQ(record["a"], k.ada.public_key().Hex());

  ChatReading reading(k.hub.public_key());
  auto message = reading.Apply(EventFor(*payload));
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->verified);
  EXPECT_EQ(message->author_status, AuthorStatus::kSigned);
  EXPECT_EQ(message->author_id, k.ada.public_key().Hex());
  EXPECT_EQ(message->body, "hello\tthere");
  EXPECT_EQ(message->ts, 1000);
  EXPECT_EQ(message->published_at, 1000);

  ProfileReading profiles;
  EXPECT_EQ(DescribeAuthor(*message, profiles).label,
            "member " + k.ada.public_key().Hex().substr(2, 8));
  auto fields = profile::NormalizeProfile("Ada", std::nullopt);
  profiles.Apply(
      EventFor(profile::BuildIdentityPayload(k.ada, k.hub.public_key().Hex(), *fields, 5)));
  AuthorView view = DescribeAuthor(*message, profiles);
  EXPECT_EQ(view.label, "Ada");
  EXPECT_EQ(view.name, "Ada");
}

// The reference reader rebuilds {body,k,p,ts} from the parsed record and
// verifies sig over it (verifyChatMessage): our records with a/as must pass.
TEST(ChatMessages, HubSignatureIsWhatTheReferenceChecks) {
  const auto& k = K();
  auto record = Json::parse(*BuildChatRecord(k.hub, "for the reference", 42, &k.ada));
  Json rebuilt = Json::object();
  for (const char* field : {"body", "k", "p", "ts"}) rebuilt[field] = record[field];
  auto sig = Base64UrlDecode(record["sig"].get<std::string>());
  EXPECT_TRUE(k.hub.public_key().Verify(AsBytes(CanonicalJson(rebuilt)), *sig));
  // And "as" covers the record without sig and as, "a" included.
  Json author_part = record;
  author_part.erase("sig");
  author_part.erase("as");
  auto as = Base64UrlDecode(record["as"].get<std::string>());
  EXPECT_TRUE(k.ada.public_key().Verify(AsBytes(CanonicalJson(author_part)), *as));
}

TEST(ChatMessages, LiteralFormatSignatureAlsoAccepted) {
  // A writer that read FORMAT.md literally signs the record without sig,
  // a and as included: the hub key still signed body, k and ts.
  const auto& k = K();
  Json record = Json::parse(*BuildChatRecord(k.hub, "literal", 7, &k.ada));
  record.erase("sig");
  record["sig"] = Base64UrlEncode(k.hub.Sign(AsBytes(CanonicalJson(record))));
  ChatReading reading(k.hub.public_key());
  auto message = reading.Apply(EventFor(PayloadWithRecord(k.hub, record, 7)));
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->verified);
  EXPECT_EQ(message->author_status, AuthorStatus::kSigned);
}

TEST(ChatMessages, ForgedAuthorSignatureShowsAsForged) {
  const auto& k = K();
  // Bob signs a message and then claims it is Ada's.
  Json record = Json::parse(*BuildChatRecord(k.hub, "I am Ada, honest", 10, &k.bob));
  record["a"] = k.ada.public_key().Hex();
  ChatReading reading(k.hub.public_key());
  auto message = reading.Apply(EventFor(PayloadWithRecord(k.hub, record, 10)));
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->verified);  // the hub signature still holds
  EXPECT_EQ(message->author_status, AuthorStatus::kForged);
  EXPECT_EQ(message->author_id, k.ada.public_key().Hex());

  ProfileReading profiles;
  auto fields = profile::NormalizeProfile("Ada", std::nullopt);
  profiles.Apply(
      EventFor(profile::BuildIdentityPayload(k.ada, k.hub.public_key().Hex(), *fields, 5)));
  AuthorView view = DescribeAuthor(*message, profiles);
  EXPECT_EQ(view.status, AuthorStatus::kForged);
  EXPECT_EQ(view.label, "FORGED author (claims Ada)");
  EXPECT_NE(view.label, "Ada");

  // Garbage in "as", or an "a" that is no key, is forged too.
  Json garbage = Json::parse(*BuildChatRecord(k.hub, "x", 11, &k.ada));
  garbage["as"] = "AAAA";
  EXPECT_EQ(reading.Apply(EventFor(PayloadWithRecord(k.hub, garbage, 11)))->author_status,
            AuthorStatus::kForged);
  Json no_key = Json::parse(*BuildChatRecord(k.hub, "y", 12, &k.ada));
  no_key["a"] = "Ada";
  EXPECT_EQ(reading.Apply(EventFor(PayloadWithRecord(k.hub, no_key, 12)))->author_status,
            AuthorStatus::kForged);
  // Changing the body after Ada signed breaks her signature (and the hub's).
  Json edited = Json::parse(*BuildChatRecord(k.hub, "original", 13, &k.ada));
  edited["body"] = "edited";
  auto edited_message = reading.Apply(EventFor(PayloadWithRecord(k.hub, edited, 13)));
  EXPECT_EQ(edited_message->author_status, AuthorStatus::kForged);
  EXPECT_FALSE(edited_message->verified);
}

TEST(ChatMessages, MissingAuthorSignatureIsHubMember) {
  const auto& k = K();
  Json record = Json::parse(*BuildChatRecord(k.hub, "unsigned claim", 20, &k.ada));
  record.erase("as");
  ChatReading reading(k.hub.public_key());
  auto message = reading.Apply(EventFor(PayloadWithRecord(k.hub, record, 20)));
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(message->verified);
  EXPECT_EQ(message->author_status, AuthorStatus::kUnsigned);
  ProfileReading profiles;
  auto fields = profile::NormalizeProfile("Ada", std::nullopt);
  profiles.Apply(
      EventFor(profile::BuildIdentityPayload(k.ada, k.hub.public_key().Hex(), *fields, 5)));
  AuthorView view = DescribeAuthor(*message, profiles);
  EXPECT_EQ(view.label.rfind("hub member", 0), 0u) << view.label;
  EXPECT_NE(view.label, "Ada");

  auto plain = reading.Apply(EventFor(*BuildChatPayload(k.hub, "no author at all", 21)));
  EXPECT_EQ(plain->author_status, AuthorStatus::kHubMember);
  EXPECT_EQ(DescribeAuthor(*plain, profiles).label, "hub member");
}

TEST(ChatMessages, HubSignatureFailuresAreShownUnverified) {
  const auto& k = K();
  ChatReading reading(k.hub.public_key());
  // Signed by another key.
  Json record = Json::parse(*BuildChatRecord(k.bob, "wrong key", 30));
  record["k"] = k.hub.public_key().Hex();
  auto wrong_key = reading.Apply(EventFor(PayloadWithRecord(k.hub, record, 30)));
  ASSERT_TRUE(wrong_key.has_value());
  EXPECT_FALSE(wrong_key->verified);
  // Validly signed, but by a key that is not this hub's.
  auto other_hub = reading.Apply(EventFor(*BuildChatPayload(k.bob, "other hub", 31)));
  ASSERT_TRUE(other_hub.has_value());
  EXPECT_FALSE(other_hub->verified);
  // Upper-case k is the same key (the reference lower-cases it).
  Json upper = Json::parse(*BuildChatRecord(k.hub, "upper", 32));
  std::string k_upper = upper["k"].get<std::string>();
  std::transform(k_upper.begin(), k_upper.end(), k_upper.begin(), ::toupper);
  upper["k"] = k_upper;
  EXPECT_TRUE(reading.Apply(EventFor(PayloadWithRecord(k.hub, upper, 32)))->verified);
  EXPECT_EQ(reading.messages().size(), 3u);
}

TEST(ChatMessages, BodyIsTrimmedAndMustNotBeEmpty) {
  const auto& k = K();
  EXPECT_EQ(*NormalizeBody("\n  hi there \u3000"), "hi there");
  EXPECT_FALSE(NormalizeBody("").ok());
  EXPECT_FALSE(NormalizeBody(" \t\r\n\u00a0\ufeff").ok());
  EXPECT_FALSE(NormalizeBody("bad \xff utf8").ok());
  EXPECT_FALSE(BuildChatPayload(k.hub, "   ", 1).ok());
  EXPECT_EQ(Json::parse(RecordOf(*BuildChatPayload(k.hub, " x ", 1)))["body"], "x");

  // A record someone wrote with an untrimmed body signed untrimmed: the
  // reference trims before verifying, so it is unverified; shown trimmed.
  Json untrimmed = Json::object();
  untrimmed["body"] = " padded ";
  untrimmed["k"] = k.hub.public_key().Hex();
  untrimmed["p"] = "nb.chat.message.v1";
  untrimmed["ts"] = 5;
  untrimmed["sig"] = Base64UrlEncode(k.hub.Sign(AsBytes(CanonicalJson(untrimmed))));
  ChatReading reading(k.hub.public_key());
  auto padded = reading.Apply(EventFor(PayloadWithRecord(k.hub, untrimmed, 5)));
  ASSERT_TRUE(padded.has_value());
  EXPECT_EQ(padded->body, "padded");
  // Hand-written records that are empty or malformed are skipped, counted.
  Json empty = untrimmed;
  empty["body"] = " \n ";
  EXPECT_FALSE(reading.Apply(EventFor(PayloadWithRecord(k.hub, empty, 6))).has_value());
  Json no_ts = untrimmed;
  no_ts.erase("ts");
  EXPECT_FALSE(reading.Apply(EventFor(PayloadWithRecord(k.hub, no_ts, 7))).has_value());
  Json negative_ts = untrimmed;
  negative_ts["ts"] = -1;
  EXPECT_FALSE(reading.Apply(EventFor(PayloadWithRecord(k.hub, negative_ts, 8))).has_value());
  EXPECT_EQ(reading.skipped(), 3u);
  // Another protocol version inside the record is ignored, not counted.
  Json v2 = untrimmed;
  v2["p"] = "nb.chat.message.v2";
  EXPECT_FALSE(reading.Apply(EventFor(PayloadWithRecord(k.hub, v2, 9))).has_value());
  EXPECT_EQ(reading.skipped(), 3u);
  EXPECT_EQ(reading.messages().size(), 1u);
}

TEST(ChatMessages, OrderIsPublishedAtThenEventHash) {
  const auto& k = K();
  std::vector<DecodedEvent> events;
  for (int i = 0; i < 12; ++i) {
    // Four messages share each publishedAt; ts runs the other way.
    Json record = Json::parse(*BuildChatRecord(k.hub, Label("m", i), 100 - i));
    events.push_back(EventFor(PayloadWithRecord(k.hub, record, 1000 + i / 4)));
  }
  std::mt19937 rng(7);
  std::shuffle(events.begin(), events.end(), rng);
  ChatReading reading = ChatReading::Replay(k.hub.public_key(), events);
  ASSERT_EQ(reading.messages().size(), 12u);
  for (size_t i = 1; i < reading.messages().size(); ++i) {
    const auto& a = reading.messages()[i - 1];
    const auto& b = reading.messages()[i];
    ASSERT_TRUE(a.published_at < b.published_at ||
                (a.published_at == b.published_at && a.event_hash.Hex() < b.event_hash.Hex()));
  }
  // Duplicates change nothing.
  ChatReading twice = ChatReading::Replay(k.hub.public_key(), events);
  for (const auto& e : events) EXPECT_FALSE(twice.Apply(e).has_value());
  EXPECT_EQ(twice.messages(), reading.messages());
}

// ---- identity records -------------------------------------------------------

std::string IdentityPayload(const crypto::PrivateKey& who, const std::string& name, int64_t ts,
                            std::optional<std::string> bio = std::nullopt) {
  auto fields =
      profile::NormalizeProfile(name, bio ? std::optional<std::string_view>(*bio) : std::nullopt);
  EXPECT_TRUE(fields.ok());
  return profile::BuildIdentityPayload(who, K().hub.public_key().Hex(), *fields, ts);
}

TEST(ProfileRecords, LatestRecordPerIdentityWins) {
  const auto& k = K();
  std::vector<DecodedEvent> events = {
      EventFor(IdentityPayload(k.ada, "Ada", 1000, "first")),
      EventFor(IdentityPayload(k.ada, "Ada Lovelace", 3000, "  analyst  ")),
      EventFor(IdentityPayload(k.ada, "Ada v2", 2000)),
      EventFor(IdentityPayload(k.bob, "Bob", 500)),
  };
  for (int round = 0; round < 4; ++round) {
    std::rotate(events.begin(), events.begin() + 1, events.end());
    ProfileReading reading = ProfileReading::Replay(events);
    ASSERT_EQ(reading.identities().size(), 2u);
    const auto* ada = reading.Find(k.ada.public_key().Hex());
    ASSERT_NE(ada, nullptr);
    EXPECT_EQ(ada->profile.display_name, "Ada Lovelace");
    EXPECT_EQ(ada->profile.bio, "analyst");
    EXPECT_EQ(ada->ts, 3000);
    EXPECT_EQ(reading.Find(k.bob.public_key().Hex())->profile.display_name, "Bob");
    EXPECT_EQ(reading.rejected(), 0u);
    EXPECT_EQ(reading.CountWithName("Ada"), 0u);
    EXPECT_EQ(reading.CountWithName("Ada Lovelace"), 1u);
  }
  // The record carries exactly the reference's fields, signed by Ada.
  Json record = Json::parse(RecordOf(IdentityPayload(k.ada, "Ada", 1, "b")));
  EXPECT_EQ(CanonicalJson(record),
            "{\"k\":\"" + k.ada.public_key().Hex() +
                "\",\"p\":\"nb.identity.record.v1\",\"profile\":{\"bio\":\"b\",\"displayName\":"
                "\"Ada\"},\"sig\":" +
                JsonString(record["sig"].get<std::string>()) + ",\"ts\":1}");
}

TEST(ProfileRecords, BadIdentitySignatureIsIgnored) {
  const auto& k = K();
  ProfileReading reading;
  EXPECT_TRUE(reading.Apply(EventFor(IdentityPayload(k.ada, "Ada", 1000))));
  // Mallory (a hub member) rewrites Ada's record with a newer ts and her name.
  Json forged = Json::parse(RecordOf(IdentityPayload(k.ada, "Ada", 1000)));
  forged["profile"]["displayName"] = "Eve";
  forged["ts"] = 9999;
  std::string payload = AppRecordPayload(profile::kIdentityRecordProtocol, CanonicalJson(forged),
                                         k.hub.public_key().Hex(), 9999);
  EXPECT_FALSE(reading.Apply(EventFor(payload)));
  // Signed by Bob's key but claiming Ada's.
  Json bob_signed = Json::parse(RecordOf(IdentityPayload(k.bob, "Eve", 8888)));
  bob_signed["k"] = k.ada.public_key().Hex();
  EXPECT_FALSE(reading.Apply(
      EventFor(AppRecordPayload(profile::kIdentityRecordProtocol, CanonicalJson(bob_signed),
                                k.hub.public_key().Hex(), 8888))));
  // Malformed: no display name.
  Json nameless = Json::parse(RecordOf(IdentityPayload(k.bob, "Bob", 1)));
  nameless["profile"].erase("displayName");
  EXPECT_FALSE(reading.Apply(EventFor(AppRecordPayload(
      profile::kIdentityRecordProtocol, CanonicalJson(nameless), k.hub.public_key().Hex(), 1))));
  EXPECT_EQ(reading.rejected(), 3u);
  ASSERT_EQ(reading.identities().size(), 1u);
  EXPECT_EQ(reading.Find(k.ada.public_key().Hex())->profile.display_name, "Ada");
  // Names are trimmed and must not be empty.
  EXPECT_FALSE(profile::NormalizeProfile("  ", std::nullopt).ok());
  EXPECT_FALSE(profile::NormalizeProfile("Ada", std::string_view("\xff")).ok());
  EXPECT_FALSE(profile::NormalizeProfile("Ada", std::string_view("  "))->bio.has_value());
}

// The reference app publishes names into a hub as snapshots of a record.
std::string SnapshotPayload(const crypto::PrivateKey& who, const std::string& record_text,
                            int64_t ts) {
  Json snapshot = Json::object();
  snapshot["k"] = who.public_key().Hex();
  snapshot["p"] = "nb.identity.snapshot.v1";
  snapshot["record"] = Json::parse(record_text);
  snapshot["ref"] = Json{{"channel", who.public_key().Hex()}, {"eventHash", std::string(64, 'a')}};
  snapshot["ts"] = ts;
  snapshot["sig"] = Base64UrlEncode(who.Sign(AsBytes(CanonicalJson(snapshot))));
  return AppRecordPayload(profile::kIdentitySnapshotProtocol, CanonicalJson(snapshot),
                          who.public_key().Hex(), ts);
}

TEST(ProfileRecords, ReferenceSnapshotsAreRead) {
  const auto& k = K();
  ProfileReading reading;
  std::string record = RecordOf(IdentityPayload(k.ada, "Alice", 1000, "from the app"));
  EXPECT_TRUE(reading.Apply(EventFor(SnapshotPayload(k.ada, record, 1000))));
  const auto* ada = reading.Find(k.ada.public_key().Hex());
  ASSERT_NE(ada, nullptr);
  EXPECT_EQ(ada->profile.display_name, "Alice");
  EXPECT_EQ(ada->profile.bio, "from the app");

  // A hub member re-wraps Alice's snapshot with another name: the record's
  // own signature fails, the genuine name survives (reference IDENT-20..23).
  Json forged = Json::parse(RecordOf(SnapshotPayload(k.ada, record, 1000)));
  forged["record"]["profile"] = Json{{"displayName", "Eve"}};
  forged["ts"] = 9999;
  EXPECT_FALSE(reading.Apply(EventFor(AppRecordPayload(
      profile::kIdentitySnapshotProtocol, CanonicalJson(forged), k.ada.public_key().Hex(), 9999))));
  // Bob wraps Alice's genuine record in a snapshot he signs himself.
  Json rewrapped = Json::parse(RecordOf(SnapshotPayload(k.bob, record, 2000)));
  EXPECT_FALSE(reading.Apply(
      EventFor(AppRecordPayload(profile::kIdentitySnapshotProtocol, CanonicalJson(rewrapped),
                                k.bob.public_key().Hex(), 2000))));
  EXPECT_EQ(reading.rejected(), 2u);
  EXPECT_EQ(reading.Find(k.ada.public_key().Hex())->profile.display_name, "Alice");
}

TEST(ProfileRecords, TwoPeopleWithOneNameAreToldApart) {
  const auto& k = K();
  ProfileReading profiles;
  profiles.Apply(EventFor(IdentityPayload(k.ada, "Sam", 1)));
  profiles.Apply(EventFor(IdentityPayload(k.bob, "Sam", 2)));
  ChatReading chat(k.hub.public_key());
  auto message = chat.Apply(EventFor(*BuildChatPayload(k.hub, "hi", 3, &k.bob)));
  EXPECT_EQ(DescribeAuthor(*message, profiles).label,
            "Sam (" + k.bob.public_key().Hex().substr(2, 8) + ")");
}

// ---- replay is a deterministic fold ------------------------------------------

TEST(ReadingsProperty, IncrementalApplyEqualsReplay) {
  const auto& k = K();
  std::vector<crypto::PrivateKey> people = {k.ada, k.bob, KeyFromByte(0x44)};
  std::mt19937 rng(2024);
  std::vector<DecodedEvent> pool;
  for (int i = 0; i < 60; ++i) {
    const auto& who = people[rng() % people.size()];
    int64_t at = 1000 + static_cast<int64_t>(rng() % 20);  // many ties
    switch (rng() % 7) {
      case 0:
        pool.push_back(EventFor(IdentityPayload(who, Label("n", rng() % 5), at)));
        break;
      case 1: {  // forged identity record
        Json r = Json::parse(RecordOf(IdentityPayload(who, "x", at)));
        r["profile"]["displayName"] = Label("forged", i);
        pool.push_back(EventFor(AppRecordPayload(profile::kIdentityRecordProtocol, CanonicalJson(r),
                                                 k.hub.public_key().Hex(), at)));
        break;
      }
      case 2: {  // forged author
        Json r = Json::parse(*BuildChatRecord(k.hub, Label("f", i), at, &who));
        r["a"] = people[(rng() % 2 + 1 + (&who - people.data())) % 3].public_key().Hex();
        pool.push_back(EventFor(PayloadWithRecord(k.hub, r, at)));
        break;
      }
      case 3: {  // malformed
        Json r = Json::parse(*BuildChatRecord(k.hub, "m", at));
        r.erase("body");
        pool.push_back(EventFor(PayloadWithRecord(k.hub, r, at)));
        break;
      }
      case 4:
        pool.push_back(EventFor(*BuildChatPayload(k.hub, Label("anon ", i), at)));
        break;
      case 5:  // not ours at all
        pool.push_back(
            EventFor(Json{{"type", "MKDIR"}, {"path", Label("d", i)}, {"createdAt", at}}.dump()));
        break;
      default:
        pool.push_back(EventFor(*BuildChatPayload(k.hub, Label("msg ", i), at, &who)));
    }
  }
  ChatReading chat_full = ChatReading::Replay(k.hub.public_key(), pool);
  ProfileReading profiles_full = ProfileReading::Replay(pool);
  ASSERT_GT(chat_full.messages().size(), 10u);
  ASSERT_GT(profiles_full.identities().size(), 0u);

  for (int trial = 0; trial < 25; ++trial) {
    std::vector<DecodedEvent> order = pool;
    // Some events arrive twice.
    for (int d = 0; d < 5; ++d) order.push_back(pool[rng() % pool.size()]);
    std::shuffle(order.begin(), order.end(), rng);
    // Fold in random batches: a replay of the first part, then Apply.
    size_t split = rng() % (order.size() + 1);
    std::vector<DecodedEvent> head(order.begin(), order.begin() + split);
    ChatReading chat = ChatReading::Replay(k.hub.public_key(), head, 1 + trial % 2);
    ProfileReading profiles = ProfileReading::Replay(head, 1 + trial % 2);
    for (size_t i = split; i < order.size(); ++i) {
      chat.Apply(order[i]);
      profiles.Apply(order[i]);
    }
    ASSERT_EQ(chat.messages(), chat_full.messages()) << "trial " << trial;
    ASSERT_EQ(chat.skipped(), chat_full.skipped());
    ASSERT_EQ(profiles.identities(), profiles_full.identities()) << "trial " << trial;
    ASSERT_EQ(profiles.rejected(), profiles_full.rejected());
  }
}

// ---- identity storage ---------------------------------------------------------

TEST(IdentityFile, CreatedPrivateAtomicallyAndNotOverwritten) {
  TempDir dir;
  auto path = dir.path() / "home" / "identity";
  std::string secret = profile::GenerateIdentitySecret();
  ASSERT_EQ(secret.rfind("nb-file-secret:v1:", 0), 0u);
  auto material = hub::ParseSecret(secret);
  ASSERT_TRUE(material.ok());
  EXPECT_EQ(material->bytes.size(), 32u);
  EXPECT_NE(profile::GenerateIdentitySecret(), secret);

  ASSERT_TRUE(profile::WriteIdentityFile(path, secret, false).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*profile::ReadIdentityFile(path), secret);
  auto first = profile::LoadIdentity(path);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->id.size(), 130u);

  std::string other = profile::GenerateIdentitySecret();
  EXPECT_FALSE(profile::WriteIdentityFile(path, other, false).ok());
  EXPECT_EQ(*profile::ReadIdentityFile(path), secret);
  ASSERT_TRUE(profile::WriteIdentityFile(path, other, true).ok());
  EXPECT_NE(profile::LoadIdentity(path)->id, first->id);
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    EXPECT_EQ(entry.path().filename(), "identity");  // no temp files left behind
  }
  // Too open: refused, as ssh refuses its keys.
  ::chmod(path.c_str(), 0644);
  EXPECT_FALSE(profile::ReadIdentityFile(path).ok());
  EXPECT_EQ(profile::ReadIdentityFile(dir.path() / "missing").error().code, ErrorCode::kNotFound);
}

TEST(IdentityFile, DerivesLikeAHubKey) {
  // The same secret gives the same key as a hub secret would (FORMAT.md §1).
  auto identity = profile::IdentityFromSecret("vectors:event signing");
  ASSERT_TRUE(identity.ok());
  EXPECT_EQ(identity->id,
            nb::testing::Vectors()["chatCanonicalJson"]["hub"]["publicKeyHex"].get<std::string>());
  // Cached: the second call returns the same key.
  EXPECT_EQ(profile::IdentityFromSecret("vectors:event signing")->id, identity->id);
}

// ---- watching a channel -------------------------------------------------------

TEST(ChannelWatcher, ReportsEventsPublishedAfterStartOnly) {
  TempDir dir;
  auto store = store::Store::Open({dir.path()}, true);
  ASSERT_TRUE(store.ok());
  const auto& k = K();
  log::HubLog writer(store->get(), k.hub.public_key());
  ASSERT_TRUE((*store)->primary().CreateChannel(writer.hub_id()).ok());
  auto before = writer.Append(k.hub, {}, Bytes(40, 1));
  ASSERT_TRUE(before.ok());

  log::HubLog reader(store->get(), k.hub.public_key());
  auto watcher = log::ChannelWatcher::Start(&reader);
  ASSERT_TRUE(watcher.ok()) << watcher.error().message;
  auto nothing = (*watcher)->Wait(50);
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());

  // A garbage file with a well-formed name is neither reported nor moved.
  auto channel = (*store)->primary().channel_dir(writer.hub_id());
  std::string junk_name = std::string(64, 'a') + ".bin";
  nb::testing::WriteText(channel / junk_name, "not an event");
  auto after = writer.Append(k.hub, {}, Bytes(40, 2));
  ASSERT_TRUE(after.ok());
  auto got = (*watcher)->Wait(2000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].hash, after->hash);
  EXPECT_TRUE(std::filesystem::exists(channel / junk_name));
  // A wake fd ends the wait at once.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  ASSERT_EQ(::write(pipe_fds[1], "x", 1), 1);
  auto woken = (*watcher)->Wait(-1, pipe_fds[0]);
  ASSERT_TRUE(woken.ok());
  EXPECT_TRUE(woken->empty());
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

}  // namespace
}  // namespace nb::apps::chat
