// The event index re-verifies an event file rewritten in place (same name,
// other bytes): its directory's mtime does not change, only the file's own
// size and mtime do.
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

TEST_F(EventIndexChanges, AFileCorruptedInPlaceIsVerifiedAgainAndLeavesTheIndex) {
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

  auto refreshed = index.Refresh();
  ASSERT_TRUE(refreshed.ok()) << refreshed.error().message;
  EXPECT_FALSE(refreshed->listed);           // no directory changed...
  ASSERT_EQ(refreshed->refused.size(), 1u);  // ...yet the rewritten file was checked
  EXPECT_EQ(refreshed->refused[0].hash, damaged);
  EXPECT_EQ(refreshed->removed, 1u);
  auto events = index.LoadAll();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].hash, keep);
  // Refused means quarantined: the bad copy is no longer where readers look.
  EXPECT_FALSE(std::filesystem::exists(EventPath(damaged)));
}

TEST_F(EventIndexChanges, AFileRewrittenWithTheSameEventStaysAndIsCheckedOnce) {
  EventIndex index(db_.get(), hub_.get());
  auto event = AppendMkdir("same", 1000);
  auto channel = store_->primary().channel_dir(hub_->id());
  SetMtime(channel, 600);
  ASSERT_TRUE(index.Refresh().ok());

  // Pretty-printed: other bytes and size, the same valid event (FORMAT.md §4).
  std::string bytes = nb::testing::ReadText(EventPath(event));
  std::string spaced = bytes;
  spaced.insert(1, " ");
  RewriteInPlace(EventPath(event), spaced);
  SetMtime(EventPath(event), 300);
  SetMtime(channel, 600);
  auto refreshed = index.Refresh();
  ASSERT_TRUE(refreshed.ok());
  EXPECT_TRUE(refreshed->refused.empty());
  EXPECT_EQ(refreshed->removed, 0u);
  EXPECT_EQ(index.LoadAll()->size(), 1u);
  // Its new size and mtime are recorded: the next refresh has nothing to do.
  auto quiet = index.Refresh();
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(quiet->refused.empty());
  EXPECT_EQ(quiet->removed, 0u);
  EXPECT_TRUE(std::filesystem::exists(EventPath(event)));
}

}  // namespace
}  // namespace nb::apps::state
