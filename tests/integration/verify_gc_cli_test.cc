// verify's reachability check, gc and hub info's figures through the real
// binary, and the temps of a killed put reaped at the next write.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "crypto/sha256.h"
#include "testing/test_support.h"

namespace nb {
namespace {

using Json = nlohmann::json;
using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;
using nb::testing::WriteText;
namespace fs = std::filesystem;

constexpr const char* kSecret = "verify-test:another passphrase";

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

class StoreCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    // The hub's secret is remembered in this home (hub create does that).
    env_ = {{"NEARBYTES_HOME", (home_ / "home").string()}, {"NEARBYTES_SECRET", kSecret}};
    ASSERT_EQ(Run({"hub", "create"}).exit_code, 0);
  }
  RunResult Run(const std::vector<std::string>& args) { return RunCli(args, env_); }
  // The same store seen from a machine that knows no secret.
  RunResult RunWithoutKey(const std::vector<std::string>& args) {
    std::vector<std::string> full{"--store", StorePath().string()};
    full.insert(full.end(), args.begin(), args.end());
    return RunCli(full, {{"NEARBYTES_HOME", (home_ / "stranger").string()}});
  }
  Json RunJson(const std::vector<std::string>& args) {
    std::vector<std::string> full{"--json"};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = Run(full);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return Json::parse(r.out);
  }
  fs::path StorePath() const { return home_ / "home" / "store"; }
  fs::path BlockPath(const std::string& hex) const {
    return StorePath() / "blocks" / (hex + ".bin");
  }
  void Put(const std::string& name, const std::string& content) {
    WriteText(work_ / name, content);
    RunResult r = Run({"put", (work_ / name).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::set<std::string> BlockFiles() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(StorePath() / "blocks")) {
      std::string name = e.path().filename().string();
      if (name.size() == 68) out.insert(name.substr(0, 64));
    }
    return out;
  }
  // Blocks named directly by events' blockRefs.
  std::set<std::string> DirectRefs() {
    std::set<std::string> out;
    for (const auto& e : RunJson({"log"})["events"]) {
      for (const auto& r : e["blockRefs"]) out.insert(r.get<std::string>());
    }
    return out;
  }
  // Blocks only a manifest names: chunks.
  std::vector<std::string> Chunks() {
    std::set<std::string> direct = DirectRefs();
    std::vector<std::string> out;
    for (const auto& b : BlockFiles()) {
      if (!direct.count(b)) out.push_back(b);
    }
    return out;
  }
  // The content block of a small file: the one block its put added.
  std::string PutAndFindBlock(const std::string& name, const std::string& content) {
    std::set<std::string> before = BlockFiles();
    Put(name, content);
    for (const auto& b : BlockFiles()) {
      if (!before.count(b)) return b;
    }
    ADD_FAILURE() << "no new block";
    return "";
  }

  TempDir home_;
  TempDir work_;
  std::map<std::string, std::string> env_;
};

// ---- verify: reachability ----

TEST_F(StoreCheck, AMissingContentBlockFailsVerifyAndNamesThePath) {
  std::string block = PutAndFindBlock("notes.txt", "some notes\n");
  ASSERT_TRUE(fs::remove(BlockPath(block)));
  RunResult r = Run({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out.find("ok:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MISSING  block " + block), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("notes.txt (live version"), std::string::npos) << r.out;
  // Without any key the block is still known to be missing (blockRefs are cleartext).
  RunResult stranger = RunWithoutKey({"--json", "verify"});
  EXPECT_EQ(stranger.exit_code, 1) << stranger.out;
  Json report = Json::parse(stranger.out);
  EXPECT_EQ(report["ok"], false);
  ASSERT_EQ(report["missingBlocks"].size(), 1u);
  EXPECT_EQ(report["missingBlocks"][0]["block"], block);
  EXPECT_EQ(report["hubs"][0]["chunksChecked"], false);
}

TEST_F(StoreCheck, AMissingBlockOfAnOlderVersionIsReportedAsSuch) {
  std::string old_block = PutAndFindBlock("draft.txt", "first draft\n");
  Put("draft.txt", "second draft\n");
  ASSERT_TRUE(fs::remove(BlockPath(old_block)));
  RunResult r = Run({"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("draft.txt (older version"), std::string::npos) << r.out;
}

TEST_F(StoreCheck, AMissingChunkIsFoundWithTheKeyAndSaidUncheckedWithout) {
  Put("big.bin", RandomBytes(5 << 20, 7));
  std::vector<std::string> chunks = Chunks();
  ASSERT_GE(chunks.size(), 2u);
  ASSERT_TRUE(fs::remove(BlockPath(chunks[1])));
  RunResult r = Run({"verify"});  // the secret is remembered in this home
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("MISSING  block " + chunks[1]), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("big.bin (live version"), std::string::npos) << r.out;
  // Another machine without the secret cannot see chunks, and says so.
  RunResult stranger = RunWithoutKey({"verify"});
  EXPECT_NE(stranger.out.find("chunk reachability not (fully) checked"), std::string::npos)
      << stranger.out;
  EXPECT_NE(stranger.out.find("secret is not known here"), std::string::npos) << stranger.out;
  // A secret given for the run is enough.
  RunResult given =
      RunCli({"--store", StorePath().string(), "verify"},
             {{"NEARBYTES_HOME", (home_ / "stranger").string()}, {"NEARBYTES_SECRET", kSecret}});
  EXPECT_EQ(given.exit_code, 1) << given.out;
  EXPECT_NE(given.out.find(chunks[1]), std::string::npos) << given.out;
}

TEST_F(StoreCheck, AHealthyStoreWithChunksVerifiesOk) {
  Put("big.bin", RandomBytes(3 << 20, 8));
  Put("small.txt", "small\n");
  RunResult r = Run({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ok: ", 0), 0u) << r.out;
  size_t blocks = BlockFiles().size();
  EXPECT_NE(r.out.find(std::to_string(blocks) + " of " + std::to_string(blocks) +
                       " referenced block(s) present"),
            std::string::npos)
      << r.out;
}

// ---- hub info ----

TEST_F(StoreCheck, HubInfoCountsChunksLiveFilesVersionsAndKinds) {
  std::string big = RandomBytes(3 << 20, 9);
  Put("big.bin", big);
  Put("a.txt", "one\n");
  Put("a.txt", "two!\n");
  ASSERT_EQ(Run({"mkdir", "folder"}).exit_code, 0);
  ASSERT_EQ(Run({"say", "hello"}).exit_code, 0);
  Json info = RunJson({"hub", "info"});
  uint64_t block_bytes = 0;
  for (const auto& b : BlockFiles()) block_bytes += fs::file_size(BlockPath(b));
  EXPECT_EQ(info["blocks"], BlockFiles().size());  // chunks included
  EXPECT_EQ(info["blockBytes"], block_bytes);
  EXPECT_EQ(info["missingBlocks"], 0);
  EXPECT_EQ(info["liveFiles"], 2);
  EXPECT_EQ(info["liveBytes"], big.size() + 5);
  EXPECT_EQ(info["versions"], 3);
  EXPECT_EQ(info["eventsByKind"]["CREATE_FILE"], 3);
  EXPECT_EQ(info["eventsByKind"]["MKDIR"], 1);
  EXPECT_EQ(info["eventsByKind"]["APP_RECORD nb.chat.message.v1"], 1);
  EXPECT_EQ(info["events"], 5);
  EXPECT_EQ(info["bytes"], info["eventBytes"].get<uint64_t>() + block_bytes);
}

// ---- gc ----

std::string PlantOrphan(const fs::path& blocks) {
  std::string bytes = RandomBytes(1000, 42);
  std::string hex = crypto::Sha256(AsBytes(bytes)).Hex();
  WriteText(blocks / (hex + ".bin"), bytes);
  return hex;
}

TEST_F(StoreCheck, GcIsADryRunUnlessYesAndKeepsEveryReferencedBlock) {
  std::string big = RandomBytes(3 << 20, 10);
  Put("big.bin", big);
  Put("small.txt", "small\n");
  std::set<std::string> referenced = BlockFiles();
  std::string orphan = PlantOrphan(StorePath() / "blocks");

  RunResult dry = Run({"gc"});
  EXPECT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find(orphan), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("1 of " + std::to_string(referenced.size() + 1)), std::string::npos)
      << dry.out;
  EXPECT_TRUE(fs::exists(BlockPath(orphan)));

  RunResult yes = Run({"gc", "--yes"});
  EXPECT_EQ(yes.exit_code, 0) << yes.out << yes.err;
  EXPECT_NE(yes.out.find("deleted 1 unreferenced block(s)"), std::string::npos) << yes.out;
  EXPECT_FALSE(fs::exists(BlockPath(orphan)));
  EXPECT_EQ(BlockFiles(), referenced);  // every chunk stays
  EXPECT_EQ(Run({"verify"}).exit_code, 0);
  RunResult got = Run({"get", "big.bin", "-"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(got.out == big);
}

TEST_F(StoreCheck, GcDeletesNothingWhenAHubsChunksAreUnknown) {
  Put("big.bin", RandomBytes(3 << 20, 11));
  std::string orphan = PlantOrphan(StorePath() / "blocks");
  std::set<std::string> before = BlockFiles();
  RunResult r = RunWithoutKey({"gc", "--yes"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("secret is not known here"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nothing is deleted"), std::string::npos) << r.out;
  EXPECT_EQ(BlockFiles(), before);
}

TEST_F(StoreCheck, GcRefusesAStoreThatDoesNotVerify) {
  std::string block = PutAndFindBlock("notes.txt", "notes\n");
  std::string orphan = PlantOrphan(StorePath() / "blocks");
  ASSERT_TRUE(fs::remove(BlockPath(block)));
  RunResult r = Run({"gc", "--yes"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("did not verify; nothing was deleted"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(BlockPath(orphan)));
}

// ---- temps of a killed put ----

size_t CountTemps(const fs::path& store) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(store)) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) ++n;
  }
  return n;
}

TEST_F(StoreCheck, TempsOfAKilledPutAreReapedAtTheNextWrite) {
  int in[2];
  ASSERT_EQ(::pipe(in), 0);
  int null_fd = ::open("/dev/null", O_WRONLY);
  int pid = nb::testing::StartCli({"put", "-", "--to", "stream.bin"},
                                  nb::testing::CliEnvironment(env_), in[0], null_fd, null_fd);
  ::close(in[0]);
  ::close(null_fd);
  // Feed it until it has staged blocks (temps that only its commit would name).
  std::string piece = RandomBytes(1 << 20, 12);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (CountTemps(StorePath()) == 0 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(::write(in[1], piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
    piece[0]++;
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(in[1]);
  ASSERT_GT(CountTemps(StorePath()), 0u);
  ASSERT_EQ(Run({"mkdir", "after"}).exit_code, 0);  // the next write
  EXPECT_EQ(CountTemps(StorePath()), 0u);
  EXPECT_EQ(Run({"verify"}).exit_code, 0);
}

}  // namespace
}  // namespace nb
