#include "engine/known_peers.h"

#include <gtest/gtest.h>

#include "testing/test_support.h"

namespace nb::engine {
namespace {

TEST(PeerAddress, AcceptsHostPortV6AndADefaultPort) {
  auto v4 = ParsePeerAddress("192.168.1.20:5000");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "192.168.1.20");
  EXPECT_EQ(v4->port, 5000);
  auto bare = ParsePeerAddress("laptop.local");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, kDefaultSyncPort);
  auto v6 = ParsePeerAddress("[fe80::1%eth0]:4441");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "fe80::1%eth0");
  EXPECT_EQ(v6->ToString(), "[fe80::1%eth0]:4441");
}

TEST(PeerAddress, RefusesWhatIsNotAnAddress) {
  for (const char* text : {"", ":4441", "host:", "host:0", "host:65536", "host:12ab", "::1:4441",
                           "[::1", "[::1]x", "a b:1", "host:-1"}) {
    EXPECT_FALSE(ParsePeerAddress(text).ok()) << text;
  }
  EXPECT_FALSE(ParsePeerAddress(std::string(400, 'a')).ok());
}

TEST(KnownPeers, SurviveARestartAndIgnoreDuplicates) {
  testing::TempDir home;
  {
    auto peers = KnownPeers::Load(home.path());
    ASSERT_TRUE(peers.ok());
    EXPECT_TRUE(peers->Add(*ParsePeerAddress("10.0.0.2:4441")));
    EXPECT_FALSE(peers->Add(*ParsePeerAddress("10.0.0.2")));  // same, default port
    EXPECT_TRUE(peers->Add(*ParsePeerAddress("[::1]:9")));
    ASSERT_TRUE(peers->Save().ok());
  }
  auto again = KnownPeers::Load(home.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->addresses(), (std::vector<std::string>{"10.0.0.2:4441", "[::1]:9"}));
  EXPECT_TRUE(again->Remove(*ParsePeerAddress("10.0.0.2:4441")));
  EXPECT_FALSE(again->Remove(*ParsePeerAddress("10.0.0.2:4441")));
}

TEST(KnownPeers, ADamagedFileIsNamed) {
  testing::TempDir home;
  testing::WriteText(home / "peers.json", "not json");
  auto peers = KnownPeers::Load(home.path());
  ASSERT_FALSE(peers.ok());
  EXPECT_NE(peers.error().message.find("peers.json"), std::string::npos);
}

}  // namespace
}  // namespace nb::engine

namespace nb::sync {
namespace {

TEST(ListenAddress, NeedsAPortAndAcceptsZero) {
  auto ephemeral = ParseHostPort("127.0.0.1:0", PortRule::kListen);
  ASSERT_TRUE(ephemeral.ok());
  EXPECT_EQ(ephemeral->port, 0);
  auto any_v6 = ParseHostPort("[::]:4441", PortRule::kListen);
  ASSERT_TRUE(any_v6.ok());
  EXPECT_EQ(any_v6->host, "::");
  EXPECT_FALSE(ParseHostPort("0.0.0.0", PortRule::kListen).ok());
  EXPECT_FALSE(ParseHostPort("0.0.0.0:65536", PortRule::kListen).ok());
  EXPECT_FALSE(ParseHostPort("127.0.0.1:0", PortRule::kPeer).ok());
}

}  // namespace
}  // namespace nb::sync
