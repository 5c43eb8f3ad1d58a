// What the event index looks at when it reopens a hub: directories whose
// mtime changed are listed and new names verified; known files are trusted
// (an in-place rewrite is found by whoever reads the bytes).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "apps/state/event_index.h"
#include "testing/test_support.h"

namespace nb::apps::state {
namespace {

using nb::testing::TempDir;

class EventIndexChanges : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::Store::Open({dir_ / "store"}, true));
    static const auto* keys = new hub::HubKeys(*hub::HubKeys::FromSecret("index:changes"));
    hub_ = std::move(*hub::Hub::Open(store_.get(), *keys, true));
    db_ = std::move(*StateDb::Open(dir_ / "store" / ".nearbytes" / "state.sqlite"));
  }

  crypto::Hash256 AppendMkdir(const std::string& path, int64_t ts) {
    std::string payload =
        R"({"type":"MKDIR","path":")" + path + R"(","createdAt":)" + std::to_string(ts) + "}";
    return hub_->AppendPayload(payload, {})->hash;
  }

  std::filesystem::path EventPath(const crypto::Hash256& hash) {
    return store_->primary().channel_dir(hub_->id()) / (hash.Hex() + ".bin");
  }

  // Sets a path's mtime to `seconds` ago (the channel directory: so the
  // index trusts it and does not list it again; an event file: a distinct
  // mtime, as a real rewrite has).
  static void SetMtime(const std::filesystem::path& path, time_t seconds_ago) {
    timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - seconds_ago, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  // Rewrites a file's bytes in place (same inode, same name): the channel
  // directory's mtime is untouched.
  static void RewriteInPlace(const std::filesystem::path& path, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<StateDb> db_;
};

TEST_F(EventIndexChanges, AnUnchangedDirectoryIsNeitherListedNorItsFilesLookedAt) {
  EventIndex index(db_.get(), hub_.get());
  AppendMkdir("a", 1000);
  AppendMkdir("b", 1001);
  auto channel = store_->primary().channel_dir(hub_->id());
  SetMtime(channel, 600);
  auto first = index.Refresh();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->listed);
  EXPECT_EQ(first->checked, 2u);

  auto again = index.Refresh();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->listed);
  EXPECT_EQ(again->checked, 0u);
  EXPECT_EQ(index.LoadAll()->size(), 2u);

  // One more name: only that file is looked at.
  AppendMkdir("c", 1002);
  SetMtime(channel, 300);
  auto third = index.Refresh();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->listed);
  EXPECT_EQ(third->checked, 1u);
  EXPECT_EQ(index.LoadAll()->size(), 3u);
}

// A file rewritten in place keeps its name and its directory's mtime: an
// open trusts what the index verified, and whoever reads the bytes (here
// the log, as a carrier or `verify` does) quarantines the file, after which
// it leaves the index.
TEST_F(EventIndexChanges, AFileCorruptedInPlaceLeavesTheIndexOnceAReaderQuarantinesIt) {
  EventIndex index(db_.get(), hub_.get());
  auto keep = AppendMkdir("keep", 1000);
  auto damaged = AppendMkdir("damaged", 1001);
  auto channel = store_->primary().channel_dir(hub_->id());
  SetMtime(channel, 600);
  ASSERT_TRUE(index.Refresh().ok());
  ASSERT_EQ(index.LoadAll()->size(), 2u);

  // Flip the signature's last characters: same size, other bytes.
  std::string bytes = nb::testing::ReadText(EventPath(damaged));
  std::string flipped = bytes;
  flipped[flipped.size() - 4] = flipped[flipped.size() - 4] == 'A' ? 'B' : 'A';
  RewriteInPlace(EventPath(damaged), flipped);
  SetMtime(EventPath(damaged), 300);
  SetMtime(channel, 600);  // the directory looks untouched

  auto trusted = index.Refresh();
  ASSERT_TRUE(trusted.ok());
  EXPECT_FALSE(trusted->listed);
  EXPECT_EQ(index.LoadAll()->size(), 2u);

  auto read = hub_->log().ReadEvent(damaged);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kCorrupt);
  EXPECT_FALSE(std::filesystem::exists(EventPath(damaged)));

  auto refreshed = index.Refresh();
  ASSERT_TRUE(refreshed.ok()) << refreshed.error().message;
  EXPECT_TRUE(refreshed->listed);
  EXPECT_EQ(refreshed->removed, 1u);
  auto events = index.LoadAll();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].hash, keep);
}

TEST_F(EventIndexChanges, ADirectoryThatWentAwayTakesItsEventsOutOfTheIndex) {
  EventIndex index(db_.get(), hub_.get());
  AppendMkdir("a", 1000);
  auto channel = store_->primary().channel_dir(hub_->id());
  SetMtime(channel, 600);
  ASSERT_TRUE(index.Refresh().ok());
  ASSERT_EQ(index.LoadAll()->size(), 1u);

  std::filesystem::remove_all(channel);
  auto refreshed = index.Refresh();
  ASSERT_TRUE(refreshed.ok()) << refreshed.error().message;
  EXPECT_TRUE(refreshed->listed);
  EXPECT_EQ(refreshed->removed, 1u);
  EXPECT_TRUE(index.LoadAll()->empty());
  auto quiet = index.Refresh();
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(quiet->listed);
}

}  // namespace
}  // namespace nb::apps::state
