// How the socket carrier moves blocks (sync/peer/): the receiver's disk work
// (hashing, writing, the sync that publishes a batch) runs off the io
// thread, so a slow disk does not stall the connection; blocks still appear
// only verified and durable. Real TLS over loopback, real files, real syncs;
// every wait is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "apps/files/file_content.h"
#include "apps/files/files_writer.h"
#include "crypto/random.h"
#include "hub/hub.h"
#include "peer/peer_node.h"
#include "store/file_io.h"
#include "store/store.h"
#include "sync/peer/sync_service.h"
#include "testing/test_support.h"

namespace nb::sync::peer {
namespace {

namespace asio = boost::asio;
using crypto::Hash256;
using namespace std::chrono_literals;
using test::BlocksOf;
using test::Node;
using test::TempFilesIn;
using test::WaitFor;
using testing::TempDir;

constexpr char kHub[] = "peer transfer test hub secret, long enough";

// Puts `size` random bytes into the hub as a chunked file (a manifest and
// chunks of about 1 MiB).
void PutRandomFile(hub::Hub& hub, const std::filesystem::path& scratch, uint64_t size) {
  std::filesystem::create_directories(scratch);
  std::filesystem::path path = scratch / "random.bin";
  {
    std::ofstream out(path, std::ios::binary);
    Bytes data(size);
    crypto::RandomFill(data);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(size));
  }
  const auto& key = hub.keys().symmetric_key();
  apps::files::Ingestor ingestor(hub.store(), key, 1, apps::files::ContentLayout::kChunked);
  auto stored = ingestor.IngestAll({{path.string()}}, nullptr);
  ASSERT_TRUE(stored.ok());
  auto writer = apps::files::FilesWriter::Load(hub);
  ASSERT_TRUE(writer.ok());
  auto created = (*writer)->CreateFile(
      "random.bin", (*stored)[0].ref, apps::files::WrapFileKey(key, apps::files::DedupFileKey(key)),
      std::nullopt);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::filesystem::remove(path);
}

// Holds the first syncfs of one store root for `hold` (a slow disk), and
// records the order of durable steps under that root.
class SlowSyncObserver : public store::IoObserver {
 public:
  SlowSyncObserver(std::filesystem::path root, std::chrono::milliseconds hold)
      : root_(std::move(root)), hold_(hold) {}
  Status Before(store::IoStep step, const std::filesystem::path& path) override {
    if (!path.string().starts_with(root_.string())) return Status::Ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      steps_.emplace_back(step, path);
    }
    if (step == store::IoStep::kSyncFileSystem && !held_.exchange(true)) {
      holding_ = true;
      std::this_thread::sleep_for(hold_);
      holding_ = false;
    }
    return Status::Ok();
  }
  bool holding() const { return holding_; }
  std::vector<std::pair<store::IoStep, std::filesystem::path>> steps() {
    std::lock_guard<std::mutex> lock(mu_);
    return steps_;
  }

 private:
  std::filesystem::path root_;
  std::chrono::milliseconds hold_;
  std::atomic<bool> held_{false}, holding_{false};
  std::mutex mu_;
  std::vector<std::pair<store::IoStep, std::filesystem::path>> steps_;
};

struct ObserverGuard {
  explicit ObserverGuard(store::IoObserver* o) { store::SetIoObserver(o); }
  ~ObserverGuard() { store::SetIoObserver(nullptr); }
};

TEST(PeerTransfer, ASlowSyncOfReceivedBlocksDoesNotStallTheConnection) {
  TempDir dir;
  Node a(dir / "a"), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  PutRandomFile(hub_a, dir / "scratch", 6u << 20);
  std::set<Hash256> blocks_a = BlocksOf(a.store());
  ASSERT_GE(blocks_a.size(), 3u);  // a manifest and chunks

  SlowSyncObserver observer(dir / "b", 3000ms);
  ObserverGuard guard(&observer);
  a.StartService();
  b.StartService();
  b.Dial(a.Listen());
  ASSERT_TRUE(WaitFor([&] { return observer.holding(); }, 30s));
  // While B's disk takes its time to sync a batch, B's io thread still
  // answers at once (before: the sync ran on it, and this waited for it).
  auto asked = std::chrono::steady_clock::now();
  b.Run([] { return 0; });
  auto answered = std::chrono::steady_clock::now() - asked;
  EXPECT_TRUE(observer.holding());
  EXPECT_LT(answered, 1000ms);
  // Nothing was published while the sync was held.
  EXPECT_TRUE(BlocksOf(b.store()).empty());

  ASSERT_TRUE(WaitFor([&] { return BlocksOf(b.store()) == blocks_a; }, 60s));
  EXPECT_EQ(TempFilesIn(b.store().primary().blocks_dir()), 0u);
  // Every block name appeared after a sync of the file system.
  bool synced = false;
  size_t block_names = 0;
  for (const auto& [step, path] : observer.steps()) {
    if (step == store::IoStep::kSyncFileSystem) synced = true;
    if (step == store::IoStep::kPublish && path.parent_path() == b.store().primary().blocks_dir()) {
      EXPECT_TRUE(synced) << path;
      ++block_names;
    }
  }
  EXPECT_EQ(block_names, blocks_a.size());
}

TEST(PeerTransfer, ASendersCorruptCopyIsQuarantinedNotSentAndTheRestArrives) {
  TempDir dir;
  Node a(dir / "a"), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  PutRandomFile(hub_a, dir / "scratch", 6u << 20);
  std::set<Hash256> blocks_a = BlocksOf(a.store());
  ASSERT_GE(blocks_a.size(), 3u);
  // One chunk (not the manifest: B must learn the chunks) rots on A's disk:
  // same size, one byte changed. The largest block is a chunk.
  Hash256 rotten;
  uintmax_t largest = 0;
  for (const auto& hash : blocks_a) {
    uintmax_t size = std::filesystem::file_size(a.store().primary().block_path(hash));
    if (size > largest) largest = size, rotten = hash;
  }
  {
    std::fstream file(a.store().primary().block_path(rotten),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(largest / 2));
    char flipped = 0x5a;
    file.write(&flipped, 1);
  }
  a.StartService();
  b.StartService();
  b.Dial(a.Listen());
  std::set<Hash256> good = blocks_a;
  good.erase(rotten);
  ASSERT_TRUE(WaitFor([&] { return BlocksOf(b.store()) == good; }, 60s));
  // A found out while reading it for B: quarantined, so no longer served.
  EXPECT_TRUE(WaitFor([&] { return !a.store().HasBlock(rotten); }, 10s));
  EXPECT_FALSE(b.store().HasBlock(rotten));
  EXPECT_EQ(TempFilesIn(b.store().primary().blocks_dir()), 0u);
  // B was not cut off for it (the sender said its copy was bad).
  auto peers = b.Peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_NE(peers[0].state, "waiting");
}

}  // namespace
}  // namespace nb::sync::peer
