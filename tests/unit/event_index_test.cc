// The verified-event index: reopening verifies only what is new, notices
// vanished and corrupt files, and survives a deleted or garbage database.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "apps/canonical_json.h"
#include "apps/state/event_index.h"
#include "store/batch_publisher.h"
#include "testing/test_support.h"

namespace nb::apps::state {
namespace {

using nb::testing::TempDir;

class EventIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::Store::Open({dir_ / "store"}, true));
    static const auto* keys = new hub::HubKeys(*hub::HubKeys::FromSecret("index:test"));
    hub_ = std::move(*hub::Hub::Open(store_.get(), *keys, true));
    db_ = std::move(*StateDb::Open(dir_ / "store" / ".nearbytes" / "state.sqlite"));
  }

  crypto::Hash256 AppendMkdir(const std::string& path, int64_t ts) {
    std::string payload =
        R"({"type":"MKDIR","path":")" + path + R"(","createdAt":)" + std::to_string(ts) + "}";
    return hub_->AppendPayload(payload, {})->hash;
  }

  // Makes the channel directory look old, as after a quiet period, so the
  // index may trust its mtime. Each call gives a distinct time, as real
  // changes do.
  void AgeChannelDir() {
    auto dir = store_->primary().channel_dir(hub_->id());
    timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - 600 + ++age_calls_, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, dir.c_str(), times, 0), 0);
  }

  TempDir dir_;
  int age_calls_ = 0;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(EventIndexTest, VerifiesOnlyNewEvents) {
  EventIndex index(db_.get(), hub_.get());
  AppendMkdir("a", 1000);
  AppendMkdir("b", 1001);
  AgeChannelDir();
  auto first = index.Refresh();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->listed);
  EXPECT_EQ(first->added.size(), 2u);

  // Nothing changed: the directory is not even listed.
  auto second = index.Refresh();
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->listed);
  EXPECT_TRUE(second->added.empty());

  AppendMkdir("c", 1002);
  AgeChannelDir();
  auto third = index.Refresh();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->listed);
  ASSERT_EQ(third->added.size(), 1u);
  ASSERT_TRUE(third->added[0].files.has_value());
  EXPECT_EQ(third->added[0].files->path, "c");
  EXPECT_EQ(index.LoadAll()->size(), 3u);
}

TEST_F(EventIndexTest, RecentDirectoryChangesAreListedAgain) {
  EventIndex index(db_.get(), hub_.get());
  AppendMkdir("a", 1000);  // directory mtime is "now": not trusted next time
  ASSERT_TRUE(index.Refresh().ok());
  auto again = index.Refresh();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->listed);
  EXPECT_TRUE(again->added.empty());
}

TEST_F(EventIndexTest, VanishedAndCorruptFilesLeaveTheIndex) {
  EventIndex index(db_.get(), hub_.get());
  auto a = AppendMkdir("a", 1000);
  AppendMkdir("b", 1001);
  ASSERT_TRUE(index.Refresh().ok());
  std::filesystem::remove(store_->primary().event_path(hub_->id(), a));
  // A forged file under a valid-looking name appears at the same time.
  std::string bogus(64, 'f');
  nb::testing::WriteText(store_->primary().channel_dir(hub_->id()) / (bogus + ".bin"),
                         R"({"envelope":{},"signature":""})");
  auto report = index.Refresh();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->removed, 1u);
  ASSERT_EQ(report->refused.size(), 1u);
  EXPECT_EQ(report->refused[0].hash.Hex(), bogus);
  auto all = index.LoadAll();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].files->path, "b");
}

// Counts what a replay tells its watcher.
class CountingProgress : public ProgressObserver {
 public:
  void Begin(uint64_t total_bytes, uint64_t total_files) override {
    ++begins;
    EXPECT_EQ(total_bytes, 0u);
    total = total_files;
  }
  void SetBytes(uint64_t) override {}
  void AddBytes(uint64_t) override {}
  void AddFiles(uint64_t files) override { done += files; }
  void End() override { ++ends; }

  int begins = 0, ends = 0;
  uint64_t total = 0;
  std::atomic<uint64_t> done{0};
};

TEST_F(EventIndexTest, LongReplaysReportProgressShortOnesDoNot) {
  CountingProgress progress;
  hub_->set_replay_progress(&progress);
  {
    store::BatchPublisher batch(&store_->primary());
    for (int i = 0; i < 2100; ++i) {
      auto payload = chat::BuildChatPayload(hub_->keys().signing_key(),
                                            "message " + std::to_string(i), 1000 + i);
      ASSERT_TRUE(hub_->AppendPayloadStaged(*payload, {}, batch).ok());
    }
    ASSERT_TRUE(batch.Commit().ok());
  }
  EventIndex index(db_.get(), hub_.get());
  index.KeepAdded(false);
  auto cold = index.Refresh();
  ASSERT_TRUE(cold.ok()) << cold.error().message;
  EXPECT_EQ(cold->added_count, 2100u);
  EXPECT_EQ(progress.begins, 1);
  EXPECT_EQ(progress.ends, 1);
  EXPECT_EQ(progress.total, 2100u);
  EXPECT_EQ(progress.done.load(), 2100u);

  AppendMkdir("a", 5000);
  AgeChannelDir();
  ASSERT_TRUE(index.Refresh().ok());
  EXPECT_EQ(progress.begins, 1);  // one new event: no line
  hub_->set_replay_progress(nullptr);
}

// Chat records through the index: a written one (the direct decoder), one
// whose body was changed after signing, one for another hub and one with an
// author claim; only the first shows as verified, all are listed.
TEST_F(EventIndexTest, ForgedChatRecordsStayUnverified) {
  const auto& key = hub_->keys().signing_key();
  auto written = chat::BuildChatPayload(key, "genuine", 100);
  auto record = nlohmann::json::parse(nlohmann::json::parse(*written)["record"].get<std::string>());
  auto forged = record;
  forged["body"] = "forged";
  auto other = record;
  auto other_keys = *hub::HubKeys::FromSecret("index:other");
  other["k"] = other_keys.id();
  auto claimed = record;
  claimed["a"] = other_keys.id();
  claimed["as"] = Base64UrlEncode(other_keys.signing_key().Sign(AsBytes("not this record")));
  ASSERT_TRUE(hub_->AppendPayload(*written, {}).ok());
  int64_t at = 101;
  for (const auto& r : {forged, other, claimed}) {
    ASSERT_TRUE(
        hub_->AppendPayload(
                AppRecordPayload(chat::kChatProtocol, CanonicalJson(r), hub_->id(), at++), {})
            .ok());
  }
  EventIndex index(db_.get(), hub_.get());
  ASSERT_TRUE(index.Refresh().ok());
  auto messages = index.ChatMessages();
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 4u);
  EXPECT_EQ((*messages)[0].body, "genuine");
  EXPECT_TRUE((*messages)[0].verified);
  EXPECT_EQ((*messages)[1].body, "forged");
  EXPECT_FALSE((*messages)[1].verified);
  EXPECT_FALSE((*messages)[2].verified);  // another hub's k
  EXPECT_TRUE((*messages)[3].verified);   // the hub signature holds ...
  EXPECT_EQ((*messages)[3].author_status, chat::AuthorStatus::kForged);  // ... the author's not
}

TEST(StateDbTest, GarbageDatabaseIsSetAsideAndRebuilt) {
  TempDir dir;
  auto file = dir / "state.sqlite";
  nb::testing::WriteText(file, std::string(4096, 'x'));
  auto db = StateDb::Open(file);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_TRUE(std::filesystem::exists(file.string() + ".broken"));
  EXPECT_TRUE((*db)->Exec("SELECT count(*) FROM events").ok());
}

}  // namespace
}  // namespace nb::apps::state
