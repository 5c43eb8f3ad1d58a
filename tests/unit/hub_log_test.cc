// The history layer: append, read back, subscribers, imports of foreign
// files, and refusal of forged or damaged events.
#include <gtest/gtest.h>

#include "hub/hub.h"
#include "log/hub_log.h"
#include "testing/test_support.h"

namespace nb::log {
namespace {

using nb::testing::TempDir;

const hub::HubKeys& Keys(const std::string& secret) {
  static auto* cache = new std::map<std::string, hub::HubKeys>();
  auto it = cache->find(secret);
  if (it == cache->end()) it = cache->emplace(secret, *hub::HubKeys::FromSecret(secret)).first;
  return it->second;
}

class HubLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::Store::Open({dir_.path()}, true));
    hub_ = std::move(*hub::Hub::Open(store_.get(), Keys("log:test"), true));
  }
  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<hub::Hub> hub_;
};

TEST_F(HubLogTest, AppendedEventsReadBackAndNotify) {
  std::vector<Hash256> heard;
  int id = hub_->log().Subscribe([&](const ValidEvent& e) { heard.push_back(e.hash); });
  auto a = hub_->AppendPayload(R"({"type":"MKDIR","path":"a","createdAt":1})", {});
  auto b = hub_->AppendPayload(R"({"type":"MKDIR","path":"b","createdAt":2})", {a->hash});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(heard, (std::vector<Hash256>{a->hash, b->hash}));
  hub_->log().Unsubscribe(id);
  auto hashes = hub_->log().ListEventHashes();
  EXPECT_EQ(hashes->size(), 2u);
  auto read = hub_->log().ReadEvent(b->hash);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->envelope.block_refs, std::vector<Hash256>{a->hash});
  EXPECT_EQ(*hub_->DecryptPayload(*read), R"({"type":"MKDIR","path":"b","createdAt":2})");
  auto loaded = LoadAllEvents(hub_->log());
  EXPECT_EQ(loaded->valid.size(), 2u);
  EXPECT_TRUE(loaded->refused.empty());
}

TEST_F(HubLogTest, ImportValidatesAndNotifiesOnce) {
  TempDir other_dir;
  auto other_store = std::move(*store::Store::Open({other_dir.path()}, true));
  auto other = std::move(*hub::Hub::Open(other_store.get(), Keys("log:test"), true));
  auto event = other->AppendPayload(R"({"type":"MKDIR","path":"x","createdAt":5})", {});
  std::string file =
      nb::testing::ReadText(other_store->primary().event_path(other->id(), event->hash));
  int notified = 0;
  hub_->log().Subscribe([&](const ValidEvent&) { ++notified; });
  EXPECT_TRUE(*hub_->log().Import(event->hash, AsBytes(file)));
  EXPECT_FALSE(*hub_->log().Import(event->hash, AsBytes(file)));  // already there
  EXPECT_EQ(notified, 1);
  // Damaged bytes and another hub's event are refused, nothing is written.
  std::string damaged = file;
  damaged[damaged.size() / 2] ^= 1;
  EXPECT_FALSE(hub_->log().Import(crypto::Sha256(AsBytes("x")), AsBytes(file)).ok());
  EXPECT_FALSE(hub_->log().Import(event->hash, AsBytes(damaged)).ok());
  TempDir forged_dir;
  auto forged_store = std::move(*store::Store::Open({forged_dir.path()}, true));
  auto forger = std::move(*hub::Hub::Open(forged_store.get(), Keys("log:forger"), true));
  auto forged = forger->AppendPayload(R"({"type":"MKDIR","path":"evil","createdAt":6})", {});
  std::string forged_file =
      nb::testing::ReadText(forged_store->primary().event_path(forger->id(), forged->hash));
  EXPECT_FALSE(hub_->log().Import(forged->hash, AsBytes(forged_file)).ok());
  EXPECT_EQ(hub_->log().ListEventHashes()->size(), 1u);
  EXPECT_EQ(notified, 1);
}

TEST_F(HubLogTest, InvalidFilesInTheChannelAreQuarantined) {
  auto good = hub_->AppendPayload(R"({"type":"MKDIR","path":"a","createdAt":1})", {});
  auto bad_hash = crypto::Sha256(AsBytes("bad"));
  nb::testing::WriteText(store_->primary().event_path(hub_->id(), bad_hash), "not json");
  auto loaded = LoadAllEvents(hub_->log());
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->valid.size(), 1u);
  EXPECT_EQ(loaded->valid[0].hash, good->hash);
  ASSERT_EQ(loaded->refused.size(), 1u);
  EXPECT_EQ(loaded->refused[0].hash, bad_hash);
  EXPECT_FALSE(store_->primary().HasEvent(hub_->id(), bad_hash));
}

TEST(HubOpen, MissingHubIsAHelpfulNotFound) {
  TempDir dir;
  auto store = std::move(*store::Store::Open({dir.path()}, true));
  auto hub = hub::Hub::Open(store.get(), Keys("log:test"), false);
  ASSERT_FALSE(hub.ok());
  EXPECT_EQ(hub.error().code, ErrorCode::kNotFound);
  EXPECT_NE(hub.error().message.find("nearbytes hub create"), std::string::npos);
}

}  // namespace
}  // namespace nb::log
