// Copying a large block (the reference writes a whole file as one block):
// the carrier streams it with flat memory, verified on the way, published
// only if its bytes hash to its name; a corrupt source copy is quarantined
// and nothing is published. The last test runs the real CLI on a hub
// holding a ~300 MB block and checks the sync's peak memory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <random>

#include "crypto/sha256.h"
#include "hub/hub.h"
#include "store/batch_publisher.h"
#include "store/store.h"
#include "sync/folder_carrier.h"
#include "testing/test_support.h"

namespace nb::store {
namespace {

namespace fs = std::filesystem;
using nb::testing::TempDir;

Bytes RandomBytes(size_t size, uint32_t seed) {
  Bytes out(size);
  std::mt19937 rng(seed);
  for (size_t i = 0; i + 4 <= size; i += 4) {
    uint32_t v = rng();
    std::memcpy(out.data() + i, &v, 4);
  }
  return out;
}

// Files in `dir` whose name starts with ".tmp".
size_t TempsIn(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(".tmp", 0) == 0) ++n;
  }
  return n;
}

constexpr const char* kSecret = "block-stream-copy:large block";

// The largest block file under `root`'s blocks/ (its hash and size).
std::pair<Hash256, uint64_t> LargestBlock(StorageRoot& root) {
  std::pair<Hash256, uint64_t> best{};
  (void)root.ForEachBlock([&](const Hash256& h) {
    auto st = root.StatBlock(h);
    if (st.ok() && st->size > best.second) best = {h, st->size};
  });
  return best;
}

// A home whose reference-compatible hub holds a 64 MiB file as one block.
class BlockStreamCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::map<std::string, std::string> env{{"NEARBYTES_HOME", (dir_ / "home").string()},
                                           {"NEARBYTES_SECRET", kSecret}};
    ASSERT_EQ(nb::testing::RunCli({"hub", "create", "--reference-compatible"}, env).exit_code, 0);
    {
      Bytes content = RandomBytes(64u << 20, 1);
      std::ofstream file(dir_ / "big.bin", std::ios::binary);
      file.write(reinterpret_cast<const char*>(content.data()),
                 static_cast<std::streamsize>(content.size()));
    }
    auto put = nb::testing::RunCli({"put", (dir_ / "big.bin").string()}, env);
    ASSERT_EQ(put.exit_code, 0) << put.err;
    auto from = Store::Open({dir_ / "home" / "store"}, false);
    auto to = Store::Open({dir_ / "stick"}, true);
    ASSERT_TRUE(from.ok() && to.ok());
    from_ = std::move(*from);
    to_ = std::move(*to);
    std::tie(big_, big_size_) = LargestBlock(from_->primary());
    ASSERT_GE(big_size_, 64u << 20);
  }
  Result<sync::CarryStats> CarryHub(std::vector<std::string>* rejected) {
    auto keys = hub::HubKeys::FromSecret(kSecret);
    if (!keys.ok()) return keys.error();
    sync::CarryContext context;
    return sync::Carry(*from_, *to_, {keys->id()}, {{keys->id(), keys->symmetric_key()}}, 2,
                       nullptr, rejected, nullptr, &context);
  }

  TempDir dir_;
  std::unique_ptr<Store> from_, to_;
  Hash256 big_;
  uint64_t big_size_ = 0;
};

TEST_F(BlockStreamCopyTest, ALargeBlockArrivesIntact) {
  // Through the store layer: staged, invisible until Commit.
  {
    BatchPublisher batch(&to_->primary());
    auto copy = batch.StageBlockCopy(*from_, big_);
    ASSERT_TRUE(copy.ok()) << copy.error().message;
    EXPECT_FALSE(copy->unreadable);
    EXPECT_TRUE(copy->staged);
    EXPECT_EQ(copy->bytes, big_size_);
    EXPECT_FALSE(to_->HasBlock(big_));
    auto committed = batch.Commit();
    ASSERT_TRUE(committed.ok());
    EXPECT_EQ(*committed, 1u);
  }
  ASSERT_TRUE(to_->primary().VerifyBlock(big_).ok());
  ASSERT_TRUE(to_->primary().RemoveBlock(big_).ok());

  // Through the carrier.
  std::vector<std::string> rejected;
  auto stats = CarryHub(&rejected);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_TRUE(rejected.empty());
  EXPECT_GE(stats->blocks, 1u);
  EXPECT_GE(stats->events, 1u);
  EXPECT_GE(stats->bytes, big_size_);
  EXPECT_TRUE(to_->primary().VerifyBlock(big_).ok());
  EXPECT_EQ(TempsIn(to_->primary().blocks_dir()), 0u);
}

TEST_F(BlockStreamCopyTest, ABitFlippedLargeBlockIsRefusedAndQuarantinedAtTheSource) {
  {
    std::fstream file(from_->primary().block_path(big_),
                      std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(20u << 20);
    char byte = 0;
    file.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    file.seekp(20u << 20);
    file.write(&byte, 1);
  }
  std::vector<std::string> rejected;
  auto stats = CarryHub(&rejected);
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].find("corrupt"), std::string::npos) << rejected[0];
  // Nothing published (nor left behind) at the destination.
  EXPECT_FALSE(to_->HasBlock(big_));
  EXPECT_EQ(TempsIn(to_->primary().blocks_dir()), 0u);
  // The source's copy moved to its quarantine.
  EXPECT_FALSE(from_->HasBlock(big_));
  EXPECT_TRUE(from_->primary().HasQuarantinedBlock(big_));
}

TEST(BlockStreamCopyRootsTest, ACorruptLargeCopyInOneRootIsServedFromTheNext) {
  TempDir dir_;
  auto to = Store::Open({dir_ / "to"}, true);
  auto from_root = StorageRoot::Open(dir_ / "from", true);
  ASSERT_TRUE(to.ok() && from_root.ok());
  auto& to_ = *to;
  Bytes big = RandomBytes(16u << 20, 4);
  auto extra = StorageRoot::Open(dir_ / "extra", true);
  ASSERT_TRUE(extra.ok());
  auto hash = extra->PutBlock(big);
  ASSERT_TRUE(hash.ok());
  Bytes bad = big;
  bad[9u << 20] ^= 1;
  // The primary holds a bad copy under the same name.
  {
    std::ofstream file(from_root->block_path(*hash), std::ios::binary);
    file.write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
  }
  auto from = Store::Open({dir_ / "from", dir_ / "extra"}, false);
  ASSERT_TRUE(from.ok());
  BatchPublisher batch(&to_->primary());
  auto copy = batch.StageBlockCopy(**from, *hash);
  ASSERT_TRUE(copy.ok());
  EXPECT_FALSE(copy->unreadable);
  EXPECT_TRUE(copy->staged);
  ASSERT_TRUE(batch.Commit().ok());
  EXPECT_TRUE(to_->primary().VerifyBlock(*hash).ok());
  EXPECT_TRUE((*from)->primary().HasQuarantinedBlock(*hash));
  EXPECT_EQ((*from)->TakeIncidents().size(), 1u);
}

// Runs the CLI, waits for it, and returns its peak resident set in bytes
// (or -1 if it failed).
long long PeakRssOfCli(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env) {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int pid =
      nb::testing::StartCli(args, nb::testing::CliEnvironment(env), null_fd, null_fd, null_fd);
  ::close(null_fd);
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) != pid) return -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return static_cast<long long>(usage.ru_maxrss) * 1024;  // ru_maxrss is in KiB
}

TEST(BlockStreamCopyCliTest, SyncingAHubWithA300MBBlockKeepsMemoryFlat) {
  TempDir dir;
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", (dir / "home").string()},
                                         {"NEARBYTES_SECRET", "block-stream-copy:large block"}};
  ASSERT_EQ(nb::testing::RunCli({"hub", "create", "--reference-compatible"}, env).exit_code, 0);
  constexpr size_t kFileSize = 300u << 20;
  {
    Bytes content = RandomBytes(kFileSize, 5);
    std::ofstream file(dir / "big.bin", std::ios::binary);
    file.write(reinterpret_cast<const char*>(content.data()),
               static_cast<std::streamsize>(content.size()));
  }
  auto put = nb::testing::RunCli({"put", (dir / "big.bin").string()}, env);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  fs::remove(dir / "big.bin");

  // The hub holds one block of the file's size (plus the cipher's overhead).
  uint64_t largest = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir / "home")) {
    if (e.is_regular_file() && e.path().parent_path().filename() == "blocks") {
      largest = std::max<uint64_t>(largest, e.file_size());
    }
  }
  ASSERT_GE(largest, kFileSize);

  long long peak = PeakRssOfCli({"sync", "--create", (dir / "stick").string()}, env);
  ASSERT_GT(peak, 0) << "sync failed";
  std::printf("[ info ] peak RSS of `sync --create` with a %llu-byte block: %.1f MiB\n",
              static_cast<unsigned long long>(largest), static_cast<double>(peak) / (1 << 20));
  EXPECT_LT(peak, 100LL << 20);

  // And the block arrived whole.
  auto stick = StorageRoot::Open(dir / "stick", false);
  ASSERT_TRUE(stick.ok());
  size_t verified = 0;
  std::vector<Hash256> hashes;
  ASSERT_TRUE(stick->ForEachBlock([&](const Hash256& h) { hashes.push_back(h); }).ok());
  for (const auto& h : hashes) {
    auto size = stick->StatBlock(h);
    ASSERT_TRUE(size.ok());
    if (size->size != largest) continue;
    EXPECT_TRUE(stick->VerifyBlock(h).ok());
    ++verified;
  }
  EXPECT_EQ(verified, 1u);

  // A sync killed while it streams the block leaves no block under its
  // name, only a temp that the next writer reaps; the next sync completes.
  fs::path stick2 = dir / "stick2";
  int pid = nb::testing::SpawnCli({"sync", "--create", stick2.string()}, env);
  bool saw_temp = false;
  for (int i = 0; i < 20000 && !saw_temp; ++i) {
    saw_temp = TempsIn(stick2 / "blocks") > 0;
    if (!saw_temp) ::usleep(200);
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (saw_temp && WIFSIGNALED(status)) {
    auto killed = StorageRoot::Open(stick2, false);
    ASSERT_TRUE(killed.ok());
    auto [hash, size] = LargestBlock(*killed);
    if (size == largest) {
      EXPECT_TRUE(killed->VerifyBlock(hash).ok());  // published only whole
    }
  }
  std::printf("[ info ] sync killed %s\n",
              saw_temp && WIFSIGNALED(status) ? "while it streamed" : "too late (finished)");
  auto again = nb::testing::RunCli({"sync", "--create", stick2.string()}, env);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(TempsIn(stick2 / "blocks"), 0u);
  auto synced = StorageRoot::Open(stick2, false);
  ASSERT_TRUE(synced.ok());
  auto [hash, size] = LargestBlock(*synced);
  EXPECT_EQ(size, largest);
  EXPECT_TRUE(synced->VerifyBlock(hash).ok());
}

}  // namespace
}  // namespace nb::store
