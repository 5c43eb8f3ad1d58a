// Opening a hub right after a write costs nothing the write already paid:
// the writer's events are in the verified-event index and the FILES
// projection is stored with them folded in. Yet the local state is only a
// cache: events dropped in by someone else (another process, a sync carrier,
// a cloud folder client) are still seen by the next open, and a damaged
// stored state is rebuilt.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "apps/files/content_check.h"
#include "apps/files/files_writer.h"
#include "apps/files/reference_sharing.h"
#include "apps/hub_timeline.h"
#include "apps/state/files_projection.h"
#include "crypto/aead.h"
#include "store/channel_dir.h"
#include "testing/test_support.h"

namespace nb::apps::state {
namespace {

using files::ContentRef;
using files::FilesWriter;
using nb::testing::TempDir;
namespace fs = std::filesystem;

const hub::HubKeys& Keys() {
  static const auto* keys = new hub::HubKeys(*hub::HubKeys::FromSecret("warm-open:test"));
  return *keys;
}

class WarmOpen : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::Store::Open({dir_ / "store"}, true));
    hub_ = std::move(*hub::Hub::Open(store_.get(), Keys(), true));
  }

  fs::path StateFile() const { return dir_ / "store" / ".nearbytes" / "state.sqlite"; }
  fs::path ChannelDir() const { return store_->primary().channel_dir(hub_->id()); }

  // A content reference to a real block of `size` bytes.
  ContentRef Block(size_t size, uint8_t fill) {
    Bytes bytes(size, fill);
    return ContentRef{ContentRef::Kind::kSingle, *store_->PutBlock(bytes)};
  }

  // Puts `count` files in one batch, as `put` does, then lets the writer go.
  void PutFiles(const std::string& dir, int count) {
    auto writer = FilesWriter::Load(*hub_);
    ASSERT_TRUE(writer.ok()) << writer.error().message;
    (*writer)->BeginBatch();
    for (int i = 0; i < count; ++i) {
      auto made =
          (*writer)->CreateFile(dir + "/f" + std::to_string(i), Block(100, 1), {}, std::nullopt);
      ASSERT_TRUE(made.ok()) << made.error().message;
    }
    ASSERT_TRUE((*writer)->CommitBatch().ok());
  }

  // A fresh open of the local state, as the next command makes it.
  struct Opened {
    RefreshReport refresh;
    FilesProjectionReport projection;
    std::optional<files::FilesReading> reading;
  };
  Opened Open() {
    Opened out;
    auto db = StateDb::Open(StateFile());
    EXPECT_TRUE(db.ok());
    EventIndex index(db->get(), hub_.get());
    index.KeepAdded(false);
    auto refreshed = index.Refresh();
    EXPECT_TRUE(refreshed.ok()) << refreshed.error().message;
    if (refreshed.ok()) out.refresh = std::move(*refreshed);
    auto reading = LoadFilesReading(index, {}, &out.projection);
    EXPECT_TRUE(reading.ok()) << reading.error().message;
    if (reading.ok()) out.reading = std::move(*reading);
    return out;
  }

  // What a full replay of every event file gives (no local state).
  size_t ReplayedFileCount() {
    auto timeline = LoadTimelineUncached(*hub_);
    EXPECT_TRUE(timeline.ok());
    return files::FilesReading::Replay(std::move(timeline->events)).files().size();
  }

  // Makes the channel directory look old, so an open trusts its mtime and
  // does not list it.
  void AgeChannelDir(time_t seconds_ago) {
    timespec times[2] = {{0, UTIME_OMIT}, {::time(nullptr) - seconds_ago, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, ChannelDir().c_str(), times, 0), 0);
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<hub::Hub> hub_;
};

TEST_F(WarmOpen, TheOpenAfterAPutVerifiesAndFoldsNothing) {
  PutFiles("a", 100);
  Opened after_put = Open();
  EXPECT_EQ(after_put.refresh.added_count, 0u);  // nothing verified again
  EXPECT_TRUE(after_put.refresh.refused.empty());
  EXPECT_EQ(after_put.projection.events, 100u);
  EXPECT_EQ(after_put.projection.folded, 0u);  // nothing folded again
  ASSERT_TRUE(after_put.reading);
  EXPECT_EQ(after_put.reading->files().size(), 100u);

  {
    // A single write outside a batch (mkdir, mv, rm) is recorded too; so
    // short a tail is folded on each open rather than stored.
    auto writer = FilesWriter::Load(*hub_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Mkdir("empty").ok());
  }
  Opened next = Open();
  EXPECT_EQ(next.refresh.added_count, 0u);
  EXPECT_EQ(next.projection.events, 101u);
  EXPECT_EQ(next.projection.resumed_at, 100u);
  EXPECT_EQ(next.projection.folded, 1u);
  ASSERT_TRUE(next.reading);
  EXPECT_TRUE(next.reading->IsDirectory("empty"));
  EXPECT_EQ(next.reading->files().size(), ReplayedFileCount());
}

TEST_F(WarmOpen, TheOrderIsTakenAsStoredWhileNoFilesEventCameOrWent) {
  PutFiles("a", 100);
  Opened after_put = Open();
  EXPECT_TRUE(after_put.projection.order_trusted);  // the put left its epoch
  {
    auto writer = FilesWriter::Load(*hub_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Mkdir("one-more").ok());
  }
  Opened after_mkdir = Open();
  EXPECT_TRUE(after_mkdir.projection.order_trusted);  // a short tail, stored as order only
  EXPECT_EQ(after_mkdir.projection.folded, 1u);

  // A chat message changes nothing of the FILES order: still trusted.
  auto chat = hub_->AppendPayload(
      R"({"type":"APP_RECORD","protocol":"nb.other.v1","record":"{}","publishedAt":1})", {});
  ASSERT_TRUE(chat.ok());
  Opened after_chat = Open();
  EXPECT_TRUE(after_chat.refresh.listed);
  EXPECT_TRUE(after_chat.projection.order_trusted);

  // A FILES event from elsewhere: the epoch moved, the order is computed.
  auto other_store = std::move(*store::Store::Open({dir_ / "store"}, false));
  auto other_hub = std::move(*hub::Hub::Open(other_store.get(), Keys(), false));
  ASSERT_TRUE(
      other_hub->AppendPayload(R"({"type":"MKDIR","path":"elsewhere","createdAt":1})", {}).ok());
  Opened after_drop = Open();
  EXPECT_FALSE(after_drop.projection.order_trusted);
  ASSERT_TRUE(after_drop.reading);
  EXPECT_TRUE(after_drop.reading->IsDirectory("elsewhere"));
  Opened quiet = Open();
  EXPECT_TRUE(quiet.projection.order_trusted);
  ASSERT_TRUE(quiet.reading);
  EXPECT_EQ(quiet.reading->files_order(), after_drop.reading->files_order());
}

// The FILES epoch counts FILES events only; an event of another kind that a
// FILES event names as its parent moves that event in the order when it
// arrives (or leaves), so such parents are checked one by one.
TEST_F(WarmOpen, AParentOfAnotherKindArrivingLateReordersTheFilesEvents) {
  auto parent = hub_->AppendPayload(
      R"({"type":"APP_RECORD","protocol":"nb.other.v1","record":"{}","publishedAt":5000})", {});
  ASSERT_TRUE(parent.ok());
  // Two writers' MKDIRs of one path: the one naming the parent has the
  // smaller timestamp, so without its parent it comes first and loses.
  ASSERT_TRUE(
      hub_->AppendPayload(R"({"type":"MKDIR","path":"x/late","createdAt":1000})", {parent->hash})
          .ok());
  ASSERT_TRUE(
      hub_->AppendPayload(R"({"type":"MKDIR","path":"x/early","createdAt":2000})", {}).ok());
  const fs::path parent_file = ChannelDir() / (parent->hash.Hex() + ".bin");
  const fs::path aside = dir_ / "aside.bin";
  fs::rename(parent_file, aside);
  Opened without = Open();
  Opened again = Open();
  EXPECT_TRUE(again.projection.order_trusted);
  ASSERT_TRUE(again.reading);
  const auto order_without = again.reading->files_order();

  fs::rename(aside, parent_file);
  Opened with = Open();
  EXPECT_FALSE(with.projection.order_trusted);
  ASSERT_TRUE(with.reading);
  auto timeline = LoadTimelineUncached(*hub_);
  ASSERT_TRUE(timeline.ok());
  auto replayed = files::FilesReading::Replay(std::move(timeline->events));
  EXPECT_EQ(with.reading->files_order(), replayed.files_order());
  EXPECT_NE(with.reading->files_order(), order_without);

  // And when it leaves again.
  fs::rename(parent_file, aside);
  Opened gone = Open();
  EXPECT_FALSE(gone.projection.order_trusted);
  ASSERT_TRUE(gone.reading);
  EXPECT_EQ(gone.reading->files_order(), order_without);
}

TEST_F(WarmOpen, AnEventDroppedInBySomeoneElseIsSeen) {
  PutFiles("a", 20);
  AgeChannelDir(600);
  Open();                 // lists the directory and remembers its (old) mtime
  Opened quiet = Open();  // trusts it
  EXPECT_FALSE(quiet.refresh.listed);

  // Another program writes into the channel (its own store object: it
  // knows nothing of our local state), as a carrier or a second CLI does.
  auto other_store = std::move(*store::Store::Open({dir_ / "store"}, false));
  auto other_hub = std::move(*hub::Hub::Open(other_store.get(), Keys(), false));
  auto dropped = other_hub->AppendPayload(
      R"({"type":"MKDIR","path":"from-elsewhere","createdAt":1700000000000})", {});
  ASSERT_TRUE(dropped.ok());

  Opened next = Open();
  EXPECT_TRUE(next.refresh.listed);
  EXPECT_EQ(next.refresh.added_count, 1u);
  ASSERT_TRUE(next.reading);
  EXPECT_TRUE(next.reading->IsDirectory("from-elsewhere"));
  EXPECT_EQ(next.reading->files().size(), 20u);
}

TEST_F(WarmOpen, AnEventDroppedInWhileAWriterWorksIsSeen) {
  PutFiles("a", 5);
  auto writer = FilesWriter::Load(*hub_);
  ASSERT_TRUE(writer.ok());
  // Someone else writes between the writer's open and its own write.
  auto other_store = std::move(*store::Store::Open({dir_ / "store"}, false));
  auto other_hub = std::move(*hub::Hub::Open(other_store.get(), Keys(), false));
  ASSERT_TRUE(
      other_hub
          ->AppendPayload(R"({"type":"MKDIR","path":"meanwhile","createdAt":1700000000000})", {})
          .ok());
  ASSERT_TRUE((*writer)->Mkdir("mine").ok());
  writer->reset();  // stores the projection it knows, which lacks "meanwhile"

  Opened next = Open();
  EXPECT_EQ(next.refresh.added_count, 1u);
  ASSERT_TRUE(next.reading);
  EXPECT_TRUE(next.reading->IsDirectory("meanwhile"));
  EXPECT_TRUE(next.reading->IsDirectory("mine"));
  EXPECT_EQ(next.reading->files().size(), 5u);
}

TEST_F(WarmOpen, ADamagedStoredStateIsRebuilt) {
  PutFiles("a", 80);
  {
    auto db = StateDb::Open(StateFile());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("UPDATE files_state SET state = zeroblob(length(state))").ok());
  }
  Opened next = Open();
  EXPECT_TRUE(next.projection.state_rejected);
  ASSERT_TRUE(next.reading);
  EXPECT_EQ(next.reading->files().size(), 80u);
}

TEST_F(WarmOpen, AStoredStateOfAnotherOrderIsNotTrusted) {
  PutFiles("a", 80);
  {
    // The stored order is damaged: node 3's hash zeroed (its epoch is
    // current, so only the damage can make the load look again).
    auto db = StateDb::Open(StateFile());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE files_nodes SET nodes = substr(nodes, 1, 32 + 3 * 45) || "
                           "zeroblob(32) || substr(nodes, 32 + 3 * 45 + 33)")
                    .ok());
  }
  Opened next = Open();
  EXPECT_FALSE(next.projection.order_trusted);
  EXPECT_EQ(next.projection.resumed_at, 0u);  // a damaged order is not trusted at all
  ASSERT_TRUE(next.reading);
  EXPECT_EQ(next.reading->files().size(), 80u);
}

TEST_F(WarmOpen, TheReferenceSearchMovesPastTheWritersOwnBlocks) {
  const fs::path checked =
      store_->primary().state_dir() / ("reference-shared-checked-" + hub_->id().substr(0, 32));
  {
    auto writer = FilesWriter::Load(*hub_);
    ASSERT_TRUE(writer.ok());
    // The search at open finds nothing and remembers the head it saw.
    EXPECT_FALSE(files::SharedWithReferenceNotice(*hub_, (*writer)->reading(), {}));
    ASSERT_TRUE((*writer)->CreateFile("small", Block(100, 2), {}, std::nullopt).ok());
  }
  // Our own small block moved the remembered head forward: the next open
  // does not search the whole hub again.
  {
    auto writer = FilesWriter::Load(*hub_);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->reading().observed_head());
    EXPECT_EQ(nb::testing::ReadText(checked), (*writer)->reading().observed_head()->Hex());
    // A single block larger than any chunk (as the reference writes):
    // the head is not moved past it...
    ASSERT_TRUE(
        (*writer)
            ->CreateFile("large", Block(files::LargestChunkBlock() + 1, 3), {}, std::nullopt)
            .ok());
  }
  // ...so the next open searches and tells.
  auto writer = FilesWriter::Load(*hub_);
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE(files::SharedWithReferenceNotice(*hub_, (*writer)->reading(), {}));
}

TEST_F(WarmOpen, ASingleBlockIsPresentWithItsSizeOrMissingWhenNotARegularFile) {
  // `ls` learns presence and size with one stat per file.
  ContentRef ref = Block(100 + crypto::kGcmOverhead, 4);
  auto present = files::CheckContentPresence(*store_, Keys().symmetric_key(), ref, {});
  EXPECT_TRUE(present.complete());
  EXPECT_TRUE(present.size_known);
  EXPECT_EQ(present.size, 100u);
  fs::path block = store_->primary().block_path(ref.hash);
  fs::remove(block);
  auto gone = files::CheckContentPresence(*store_, Keys().symmetric_key(), ref, {});
  EXPECT_EQ(gone.missing, 1u);
  fs::create_directories(block);  // a directory under the block's name is no block
  auto not_a_file = files::CheckContentPresence(*store_, Keys().symmetric_key(), ref, {});
  EXPECT_EQ(not_a_file.missing, 1u);
}

TEST(ChannelDirTest, ListsAndStatsWellNamedRegularFilesOnly) {
  TempDir dir;
  auto root = store::StorageRoot::Open(dir / "root", true);
  ASSERT_TRUE(root.ok());
  const std::string channel = "04" + std::string(128, 'a');
  EXPECT_EQ(store::ChannelDir::Open(*root, channel).error().code, ErrorCode::kNotFound);
  fs::create_directories(root->channel_dir(channel));
  crypto::Hash256 a, b, c;
  a.bytes[0] = 1;
  b.bytes[0] = 2;
  c.bytes[0] = 3;
  nb::testing::WriteText(root->channel_dir(channel) / (a.Hex() + ".bin"), "12345");
  fs::create_directories(root->channel_dir(channel) / (b.Hex() + ".bin"));  // not a file
  nb::testing::WriteText(root->channel_dir(channel) / (c.Hex() + ".tmp"), "x");
  nb::testing::WriteText(root->channel_dir(channel) / "README", "x");
  auto opened = store::ChannelDir::Open(*root, channel);
  ASSERT_TRUE(opened.ok());
  auto stat = opened->StatEvent(a);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->size, 5u);
  EXPECT_EQ(opened->StatEvent(b).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(opened->StatEvent(c).error().code, ErrorCode::kNotFound);
  auto listed = opened->ListEvents();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::vector<crypto::Hash256>{a, b}));  // names, sorted
  EXPECT_EQ(opened->ListEvents()->size(), 2u);               // listed again from the start
}

}  // namespace
}  // namespace nb::apps::state
