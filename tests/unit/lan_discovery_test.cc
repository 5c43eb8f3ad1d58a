// LAN announcements (lan_announcement.h) and the receiving filter
// (lan_discovery.h LanPeerFilter), without sockets. The sockets are tested
// in network namespaces (tests/integration_netns/lan_netns_test.cc).
#include <gtest/gtest.h>

#include <set>

#include "crypto/point_compression.h"
#include "crypto/random.h"
#include "hub/hub.h"
#include "sync/lan_announcement.h"
#include "sync/lan_discovery.h"

namespace nb::sync {
namespace {

using boost::asio::ip::make_address;
using Clock = LanPeerFilter::Clock;

crypto::PrivateKey RandomInstanceKey() {
  for (;;) {
    crypto::Scalar scalar;
    crypto::RandomFill(scalar);
    auto key = crypto::PrivateKey::FromScalar(scalar);
    if (key.ok()) return std::move(key).value();
  }
}

LanHubKey RandomHub(const std::string& id) {
  crypto::SymmetricKey key;
  crypto::RandomFill(key);
  return DeriveLanHubKey(id, key);
}

Bytes Compressed(const crypto::PrivateKey& key) {
  return crypto::CompressPublicKey(key.public_key());
}

TEST(LanPointCompressionTest, RoundTripsAndRejectsWhatIsNotAPoint) {
  for (int i = 0; i < 8; ++i) {
    crypto::PrivateKey key = RandomInstanceKey();
    Bytes compressed = crypto::CompressPublicKey(key.public_key());
    ASSERT_EQ(compressed.size(), 33u);
    auto back = crypto::DecompressPublicKey(compressed);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->bytes(), key.public_key().bytes());
  }
  Bytes compressed = crypto::CompressPublicKey(RandomInstanceKey().public_key());
  Bytes wrong_prefix = compressed;
  wrong_prefix[0] = 0x04;
  EXPECT_FALSE(crypto::DecompressPublicKey(wrong_prefix).ok());
  EXPECT_FALSE(crypto::DecompressPublicKey(ByteSpan(compressed).first(32)).ok());
  // About half of all X values are not on the curve; X = p (0xff..) never is
  // a field element at all.
  Bytes not_on_curve(33, 0xff);
  not_on_curve[0] = 0x02;
  EXPECT_FALSE(crypto::DecompressPublicKey(not_on_curve).ok());
}

// A vector computed independently (Python's hmac and hashlib, RFC 5869 by hand).
TEST(LanAnnouncementTest, TagMatchesAnIndependentComputation) {
  crypto::SymmetricKey hub_key;
  for (size_t i = 0; i < hub_key.size(); ++i) hub_key[i] = static_cast<uint8_t>(i + 1);
  LanHubKey hub = DeriveLanHubKey("h", hub_key);
  EXPECT_EQ(HexEncode(hub.key), "d499f1a4cb885fb0eed84ab8cd2f1724ba58757766f20bd7fb6f025c54552e8a");
  LanAnnouncement announcement;
  announcement.instance_key = Bytes(33, 0xaa);
  announcement.instance_key[0] = 0x02;
  announcement.sync_port = 0x115c;
  for (size_t i = 0; i < announcement.nonce.size(); ++i) {
    announcement.nonce[i] = static_cast<uint8_t>(i);
  }
  Bytes header = announcement.Header();
  EXPECT_EQ(HexEncode(header),
            "4e424c410102aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa115c00010"
            "2030405060708090a0b0c0d0e0f");
  EXPECT_EQ(HexEncode(ComputeLanTag(hub, header)), "e31fd3fca483e77a02956b84a8195291");
}

TEST(LanAnnouncementTest, RoundTripsAndOnlyMembersMatch) {
  crypto::PrivateKey instance = RandomInstanceKey();
  std::vector<LanHubKey> held = {RandomHub("h1"), RandomHub("h2"), RandomHub("h3")};
  auto packets = EncodeLanAnnouncements(Compressed(instance), 4441, held);
  ASSERT_EQ(packets.size(), 1u);
  // Three tags padded to four.
  EXPECT_EQ(packets[0].size(), 57u + 4 * 16);
  auto decoded = DecodeLanAnnouncement(packets[0]);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->instance_key, Compressed(instance));
  EXPECT_EQ(decoded->sync_port, 4441);
  EXPECT_EQ(decoded->tags.size(), 4u);

  std::vector<LanHubKey> receiver = {RandomHub("other"), held[1], RandomHub("another")};
  EXPECT_EQ(MatchLanAnnouncement(*decoded, receiver), std::vector<std::string>{"h2"});
  EXPECT_EQ(MatchLanAnnouncement(*decoded, held).size(), 3u);
  // The same hub id under another key is another hub.
  LanHubKey impostor = RandomHub("h1");
  EXPECT_TRUE(MatchLanAnnouncement(*decoded, std::vector<LanHubKey>{impostor}).empty());
}

TEST(LanAnnouncementTest, TagsAreBoundToTheHeader) {
  crypto::PrivateKey instance = RandomInstanceKey();
  std::vector<LanHubKey> held = {RandomHub("h1")};
  auto packet = EncodeLanAnnouncements(Compressed(instance), 4441, held).at(0);
  // Changing the advertised port (or key, or nonce) voids the tags: a
  // non-member cannot redirect a member's announcement.
  for (size_t offset : {38u, 39u, 10u, 45u}) {
    Bytes altered = packet;
    altered[offset] ^= 0x01;
    auto decoded = DecodeLanAnnouncement(altered);
    ASSERT_TRUE(decoded.ok()) << offset;
    EXPECT_TRUE(MatchLanAnnouncement(*decoded, held).empty()) << offset;
  }
}

TEST(LanAnnouncementTest, EveryAnnouncementHasFreshNonceAndUnlinkableTags) {
  crypto::PrivateKey instance = RandomInstanceKey();
  std::vector<LanHubKey> held = {RandomHub("h1"), RandomHub("h2")};
  std::set<LanNonce> nonces;
  std::set<LanTag> tags;
  for (int i = 0; i < 50; ++i) {
    auto decoded = DecodeLanAnnouncement(EncodeLanAnnouncements(Compressed(instance), 1, held)[0]);
    ASSERT_TRUE(decoded.ok());
    nonces.insert(decoded->nonce);
    tags.insert(decoded->tags.begin(), decoded->tags.end());
    EXPECT_EQ(MatchLanAnnouncement(*decoded, held).size(), 2u);
  }
  EXPECT_EQ(nonces.size(), 50u);
  EXPECT_EQ(tags.size(), 50u * 4);  // no tag ever repeats
}

TEST(LanAnnouncementTest, ManyHubsSpreadOverSeveralPacketsOfBoundedSize) {
  crypto::PrivateKey instance = RandomInstanceKey();
  std::vector<LanHubKey> held;
  for (int i = 0; i < 130; ++i) held.push_back(RandomHub("h" + std::to_string(i)));
  auto packets = EncodeLanAnnouncements(Compressed(instance), 4441, held);
  ASSERT_EQ(packets.size(), 3u);
  std::set<std::string> matched;
  for (const Bytes& packet : packets) {
    EXPECT_LE(packet.size(), kLanMaxPacketSize);
    EXPECT_LE(packet.size(), 1200u);
    auto decoded = DecodeLanAnnouncement(packet);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    for (auto& id : MatchLanAnnouncement(*decoded, held)) matched.insert(id);
  }
  EXPECT_EQ(matched.size(), 130u);
  EXPECT_TRUE(EncodeLanAnnouncements(Compressed(instance), 4441, {}).empty());
}

TEST(LanAnnouncementTest, HostilePacketsAreRejected) {
  crypto::PrivateKey instance = RandomInstanceKey();
  std::vector<LanHubKey> held = {RandomHub("h1"), RandomHub("h2"), RandomHub("h3"), RandomHub("h4"),
                                 RandomHub("h5")};
  Bytes good = EncodeLanAnnouncements(Compressed(instance), 4441, held).at(0);
  ASSERT_TRUE(DecodeLanAnnouncement(good).ok());

  for (size_t size = 0; size < good.size(); ++size) {
    EXPECT_FALSE(DecodeLanAnnouncement(ByteSpan(good).first(size)).ok()) << size;
  }
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(DecodeLanAnnouncement(trailing).error().code, ErrorCode::kCorrupt);

  Bytes magic = good;
  magic[0] = 'X';
  EXPECT_EQ(DecodeLanAnnouncement(magic).error().code, ErrorCode::kCorrupt);
  Bytes version = good;
  version[4] = 2;
  EXPECT_EQ(DecodeLanAnnouncement(version).error().code, ErrorCode::kUnsupported);
  Bytes zero_port = good;
  zero_port[38] = zero_port[39] = 0;
  EXPECT_FALSE(DecodeLanAnnouncement(zero_port).ok());
  Bytes uncompressed = good;
  uncompressed[5] = 0x04;
  EXPECT_FALSE(DecodeLanAnnouncement(uncompressed).ok());

  // A count larger than the bytes present, a count of zero, and a count
  // over the limit even when the bytes are there.
  Bytes overstated = good;
  overstated[56] = 9;
  EXPECT_FALSE(DecodeLanAnnouncement(overstated).ok());
  Bytes zero = Bytes(good.begin(), good.begin() + 57);
  zero[56] = 0;
  EXPECT_FALSE(DecodeLanAnnouncement(zero).ok());
  Bytes too_many(good.begin(), good.begin() + 57);
  too_many[56] = 65;
  too_many.resize(57 + 65 * 16, 0x5a);
  EXPECT_FALSE(DecodeLanAnnouncement(too_many).ok());
  too_many[56] = 255;
  too_many.resize(57 + 255 * 16, 0x5a);
  EXPECT_FALSE(DecodeLanAnnouncement(too_many).ok());

  // Random bytes and random corruptions: never a crash, never a match.
  for (int i = 0; i < 2000; ++i) {
    Bytes noise = crypto::RandomBytes(static_cast<size_t>(i % 1200));
    if (noise.size() > 4) std::copy_n("NBLA\x01", 5, noise.begin());
    auto decoded = DecodeLanAnnouncement(noise);
    if (decoded.ok()) {
      EXPECT_TRUE(MatchLanAnnouncement(*decoded, held).empty());
    }
  }
}

class LanPeerFilterTest : public ::testing::Test {
 protected:
  crypto::PrivateKey own_ = RandomInstanceKey();
  crypto::PrivateKey peer_ = RandomInstanceKey();
  LanHubKey shared_ = RandomHub("shared");
  LanHubKey only_ours_ = RandomHub("ours");
  LanHubKey only_theirs_ = RandomHub("theirs");
  LanPeerFilter filter_{own_.public_key(), std::chrono::seconds(10)};
  Clock::time_point now_ = Clock::now();

  void SetUp() override { filter_.SetHubs({only_ours_, shared_}); }

  Bytes From(const crypto::PrivateKey& key, uint16_t port, std::vector<LanHubKey> hubs) {
    return EncodeLanAnnouncements(Compressed(key), port, hubs).at(0);
  }
};

TEST_F(LanPeerFilterTest, ReportsAMemberWithTheSharedHubsOnly) {
  auto peer =
      filter_.Accept(From(peer_, 5000, {only_theirs_, shared_}), make_address("10.0.0.2"), now_);
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->address, make_address("10.0.0.2"));
  EXPECT_EQ(peer->sync_port, 5000);
  EXPECT_EQ(peer->instance_key.bytes(), peer_.public_key().bytes());
  EXPECT_EQ(peer->hub_ids, std::vector<std::string>{"shared"});
}

TEST_F(LanPeerFilterTest, IgnoresNonMembersAndItself) {
  EXPECT_FALSE(filter_.Accept(From(peer_, 5000, {only_theirs_}), make_address("10.0.0.2"), now_));
  EXPECT_FALSE(filter_.Accept(From(own_, 5000, {shared_}), make_address("10.0.0.1"), now_));
  EXPECT_FALSE(filter_.Accept(AsBytes("hello"), make_address("10.0.0.2"), now_));
}

TEST_F(LanPeerFilterTest, ReportsAPeerAgainOnlyAfterTheIntervalOrWhenItMoves) {
  auto source = make_address("10.0.0.2");
  EXPECT_TRUE(filter_.Accept(From(peer_, 5000, {shared_}), source, now_));
  // Announcements every few seconds: not reported again within 10 s.
  for (int s = 1; s < 10; ++s) {
    EXPECT_FALSE(
        filter_.Accept(From(peer_, 5000, {shared_}), source, now_ + std::chrono::seconds(s)))
        << s;
  }
  EXPECT_TRUE(
      filter_.Accept(From(peer_, 5000, {shared_}), source, now_ + std::chrono::seconds(11)));
  // Another port or another address is reported at once (an IPv6 address
  // beside an IPv4 one, too).
  EXPECT_TRUE(
      filter_.Accept(From(peer_, 5001, {shared_}), source, now_ + std::chrono::seconds(12)));
  auto v6 = filter_.Accept(From(peer_, 5001, {shared_}), make_address("fe80::2%1"),
                           now_ + std::chrono::seconds(12));
  ASSERT_TRUE(v6.has_value());
  EXPECT_TRUE(v6->address.is_v6());
  EXPECT_EQ(v6->address.to_v6().scope_id(), 1u);
  // A hub it did not announce before is news.
  auto more = filter_.Accept(From(peer_, 5001, {shared_, only_ours_}), source,
                             now_ + std::chrono::seconds(13));
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(more->hub_ids, (std::vector<std::string>{"ours", "shared"}));
}

TEST_F(LanPeerFilterTest, AReplayedAnnouncementIsIgnoredFromAnyAddress) {
  Bytes packet = From(peer_, 5000, {shared_});
  EXPECT_TRUE(filter_.Accept(packet, make_address("10.0.0.2"), now_));
  // Someone else on the link resends it as their own: same nonce.
  EXPECT_FALSE(filter_.Accept(packet, make_address("10.0.0.66"), now_ + std::chrono::seconds(1)));
  EXPECT_FALSE(filter_.Accept(packet, make_address("10.0.0.2"), now_ + std::chrono::seconds(30)));
}

TEST_F(LanPeerFilterTest, AValidTagOnAKeyOffTheCurveIsIgnored) {
  // A member could forge this; it must not reach the caller as a peer.
  LanAnnouncement forged;
  forged.instance_key = Bytes(33, 0xff);
  forged.instance_key[0] = 0x02;
  forged.sync_port = 5000;
  crypto::RandomFill(forged.nonce);
  Bytes packet = forged.Header();
  LanTag tag = ComputeLanTag(shared_, packet);
  packet.push_back(1);
  packet.insert(packet.end(), tag.begin(), tag.end());
  ASSERT_TRUE(DecodeLanAnnouncement(packet).ok());
  EXPECT_FALSE(filter_.Accept(packet, make_address("10.0.0.2"), now_));
}

TEST_F(LanPeerFilterTest, AFloodFromOneSourceIsCutToItsBudget) {
  // Every packet would be reported (new port each time) if it were inspected.
  int reported = 0;
  for (uint16_t port = 1; port <= 500; ++port) {
    if (filter_.Accept(From(peer_, port, {shared_}), make_address("10.0.0.2"), now_)) ++reported;
  }
  EXPECT_EQ(reported, 40);
  // Another source still gets through, and the first one recovers with time.
  EXPECT_TRUE(filter_.Accept(From(peer_, 9000, {shared_}), make_address("10.0.0.3"), now_));
  EXPECT_TRUE(filter_.Accept(From(peer_, 9001, {shared_}), make_address("10.0.0.2"),
                             now_ + std::chrono::seconds(1)));
}

TEST(LanHubKeyTest, DerivedFromTheHubSecretAndDifferentPerHub) {
  auto a = hub::HubKeys::FromSecret("lan test secret one");
  auto b = hub::HubKeys::FromSecret("lan test secret two");
  ASSERT_TRUE(a.ok() && b.ok());
  LanHubKey ka = DeriveLanHubKey(*a);
  EXPECT_EQ(ka.hub_id, a->id());
  EXPECT_EQ(ka.key, DeriveLanHubKey(*a).key);
  EXPECT_NE(ka.key, DeriveLanHubKey(*b).key);
  // Not the hub's encryption key itself.
  EXPECT_NE(Bytes(ka.key.begin(), ka.key.end()),
            Bytes(a->symmetric_key().begin(), a->symmetric_key().end()));
}

}  // namespace
}  // namespace nb::sync
