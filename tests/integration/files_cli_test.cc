// The files commands through the real binary: put/ls/get round trips,
// chunked content and dedup, versions and conflicts, the reference corpus,
// and bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "crypto/sha256.h"
#include "testing/test_support.h"

namespace nb {
namespace {

using Json = nlohmann::json;
using nb::testing::ReadText;
using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;
using nb::testing::WriteText;
namespace fs = std::filesystem;

constexpr const char* kSecret = "files-test:a shared passphrase";

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

std::string Sha256Hex(const std::string& data) { return crypto::Sha256(AsBytes(data)).Hex(); }

class FilesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"NEARBYTES_HOME", (home_ / "home").string()}, {"NEARBYTES_SECRET", kSecret}};
    ASSERT_EQ(Run({"hub", "create"}).exit_code, 0);
  }
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    return RunCli(args, env_, input);
  }
  Json RunJson(const std::vector<std::string>& args) {
    std::vector<std::string> full{"--json"};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = Run(full);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out);
  }
  fs::path StorePath() const { return home_ / "home" / "store"; }

  TempDir home_;
  TempDir work_;
  std::map<std::string, std::string> env_;
};

TEST_F(FilesCli, PutTreeThenListAndGetBack) {
  WriteText(work_ / "src" / "a.txt", "alpha\n");
  WriteText(work_ / "src" / "deep" / "b.md", "# beta\n");
  fs::create_directories(work_ / "src" / "empty");
  RunResult put = Run({"put", (work_ / "src").string()});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(put.out.find("put 2 file(s)"), std::string::npos) << put.out;

  Json listing = RunJson({"ls", "-r"});
  std::map<std::string, Json> by_path;
  for (const auto& e : listing) by_path[e["path"].get<std::string>()] = e;
  ASSERT_TRUE(by_path.count("src/a.txt"));
  EXPECT_EQ(by_path["src/a.txt"]["size"], 6);
  EXPECT_EQ(by_path["src/a.txt"]["mimeType"], "text/plain");
  EXPECT_EQ(by_path["src/deep/b.md"]["size"], 7);
  EXPECT_EQ(by_path["src/empty"]["type"], "directory");
  EXPECT_EQ(by_path["src/empty"]["explicit"], true);  // empty dirs survive as MKDIR
  EXPECT_EQ(by_path["src/deep"]["explicit"], false);

  RunResult got = Run({"get", "src/deep/b.md", "-"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, "# beta\n");
  ASSERT_EQ(Run({"export", "src", (work_ / "out").string()}).exit_code, 0);
  EXPECT_EQ(ReadText(work_ / "out" / "a.txt"), "alpha\n");
  EXPECT_EQ(ReadText(work_ / "out" / "deep" / "b.md"), "# beta\n");
  EXPECT_TRUE(fs::is_directory(work_ / "out" / "empty"));
}

TEST_F(FilesCli, StdinAndLargeChunkedFilesRoundTripAndDeduplicate) {
  std::string big = RandomBytes(9 * 1024 * 1024 + 17, 1);
  WriteText(work_ / "big.bin", big);
  RunResult put = Run({"--json", "put", (work_ / "big.bin").string(), "--to", "data/"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  Json first = Json::parse(put.out);
  EXPECT_GE(first["newBlocks"].get<int>(), 3);  // several chunks plus a manifest

  Json entry = RunJson({"ls", "data/big.bin"})[0];
  EXPECT_EQ(entry["size"], big.size());
  EXPECT_EQ(entry["chunked"], true);

  // The same bytes under another name, through stdin: no new block at all.
  RunResult again = Run({"--json", "put", "-", "--to", "copy/big-again.bin"}, big);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Json::parse(again.out)["newBlocks"], 0);

  RunResult got = Run({"get", "copy/big-again.bin", (work_ / "back.bin").string()});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(Sha256Hex(ReadText(work_ / "back.bin")), Sha256Hex(big));
  // Putting an unchanged file again writes no event.
  Json unchanged =
      Json::parse(Run({"--json", "put", (work_ / "big.bin").string(), "--to", "data/"}).out);
  EXPECT_EQ(unchanged["written"], 0);
  EXPECT_EQ(unchanged["unchanged"], 1);
}

TEST_F(FilesCli, EditsHistoryAndOldVersions) {
  WriteText(work_ / "notes.txt", "version one");
  ASSERT_EQ(Run({"put", (work_ / "notes.txt").string()}).exit_code, 0);
  WriteText(work_ / "notes.txt", "version two!");
  ASSERT_EQ(Run({"put", (work_ / "notes.txt").string()}).exit_code, 0);
  ASSERT_EQ(Run({"mkdir", "archive"}).exit_code, 0);
  ASSERT_EQ(Run({"mv", "notes.txt", "archive"}).exit_code, 0);  // into the directory

  Json history = RunJson({"history", "archive/notes.txt"});
  auto versions = history["versions"];
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0]["type"], "CREATE_FILE");
  EXPECT_EQ(versions[0]["size"], 11);
  EXPECT_EQ(versions[0]["live"], false);
  EXPECT_EQ(versions[1]["size"], 12);
  EXPECT_EQ(versions[1]["live"], true);
  EXPECT_EQ(versions[2]["type"], "RENAME");

  RunResult old =
      Run({"get", "--version", versions[0]["event"].get<std::string>(), "archive/notes.txt", "-"});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  EXPECT_EQ(old.out, "version one");

  // rm of a non-empty directory needs -r; afterwards the tree is empty.
  EXPECT_NE(Run({"rm", "archive"}).exit_code, 0);
  ASSERT_EQ(Run({"rm", "-r", "archive"}).exit_code, 0);
  EXPECT_TRUE(RunJson({"ls", "-r"}).empty());
}

TEST_F(FilesCli, EventsFollowTheReferenceBlockRefsLayout) {
  WriteText(work_ / "f.txt", "one");
  ASSERT_EQ(Run({"put", (work_ / "f.txt").string()}).exit_code, 0);
  WriteText(work_ / "f.txt", "two");
  ASSERT_EQ(Run({"put", (work_ / "f.txt").string()}).exit_code, 0);
  ASSERT_EQ(Run({"mv", "f.txt", "g.txt"}).exit_code, 0);
  Json log = RunJson({"log"})["events"];
  ASSERT_EQ(log.size(), 3u);
  // Sorted by time: create, overwrite, rename.
  const Json& create = log[0];
  const Json& overwrite = log[1];
  const Json& rename = log[2];
  EXPECT_EQ(create["type"], "CREATE_FILE");
  ASSERT_EQ(create["blockRefs"].size(), 1u);  // first FILES event: its content only
  std::string first_block = create["blockRefs"][0];
  // [head = create (also the path's last event, deduplicated), old block, new block]
  ASSERT_EQ(overwrite["blockRefs"].size(), 3u);
  EXPECT_EQ(overwrite["blockRefs"][0], create["hash"]);
  EXPECT_EQ(overwrite["blockRefs"][1], first_block);
  std::string second_block = overwrite["blockRefs"][2];
  // RENAME: [head, last event at from, block at from]
  ASSERT_EQ(rename["type"], "RENAME");
  ASSERT_EQ(rename["blockRefs"].size(), 2u);
  EXPECT_EQ(rename["blockRefs"][0], overwrite["hash"]);
  EXPECT_EQ(rename["blockRefs"][1], second_block);
}

TEST_F(FilesCli, ConcurrentWritersMakeAVisibleConflict) {
  WriteText(work_ / "plan.txt", "base");
  ASSERT_EQ(Run({"put", (work_ / "plan.txt").string()}).exit_code, 0);
  // A second device: a copy of the store made now, edited offline.
  TempDir other;
  nb::testing::CopyTree(StorePath(), other / "store");
  std::map<std::string, std::string> other_env{{"NEARBYTES_HOME", (other / "home").string()},
                                               {"NEARBYTES_SECRET", kSecret}};
  WriteText(work_ / "plan.txt", "laptop edit");
  ASSERT_EQ(Run({"put", (work_ / "plan.txt").string()}).exit_code, 0);
  WriteText(work_ / "phone.txt", "phone edit");
  RunResult phone = RunCli({"--store", (other / "store").string(), "put",
                            (work_ / "phone.txt").string(), "--to", "plan.txt"},
                           other_env);
  ASSERT_EQ(phone.exit_code, 0) << phone.err;
  // Carry the phone's events and blocks over by hand (what sync does).
  for (const char* dir : {"blocks", "channels"}) {
    fs::copy(other / "store" / dir, StorePath() / dir,
             fs::copy_options::recursive | fs::copy_options::skip_existing);
  }
  Json conflicts = RunJson({"conflicts"});
  ASSERT_EQ(conflicts.size(), 1u);
  EXPECT_EQ(conflicts[0]["path"], "plan.txt");
  ASSERT_EQ(conflicts[0]["others"].size(), 1u);
  Json listing = RunJson({"ls", "plan.txt"});
  EXPECT_EQ(listing[0]["conflict"], true);
  // Both versions stay readable.
  std::string live = Run({"get", "plan.txt", "-"}).out;
  std::string other_version =
      Run({"get", "--version", conflicts[0]["others"][0].get<std::string>(), "plan.txt", "-"}).out;
  std::set<std::string> both{live, other_version};
  EXPECT_EQ(both, (std::set<std::string>{"laptop edit", "phone edit"}));
  // Writing the file again after seeing both resolves the conflict.
  WriteText(work_ / "plan.txt", "merged");
  ASSERT_EQ(Run({"put", (work_ / "plan.txt").string()}).exit_code, 0);
  EXPECT_TRUE(RunJson({"conflicts"}).empty());
  EXPECT_EQ(Run({"get", "plan.txt", "-"}).out, "merged");
}

TEST_F(FilesCli, ReferenceHubReplaysToTheExpectedTree) {
  TempDir corpus;
  nb::testing::CopyTree(nb::testing::InteropDir() / "hub-public", corpus.path());
  auto expected = nb::testing::LoadJson(nb::testing::InteropDir() / "hub-public.expected.json");
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", (work_ / "h").string()},
                                         {"NEARBYTES_SECRET", "interop-public:correct horse"}};
  RunResult ls = RunCli({"--json", "--store", corpus.path().string(), "ls", "-r"}, env);
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  Json listing = Json::parse(ls.out);
  size_t files = 0;
  for (const auto& e : listing) {
    std::string path = e["path"];
    if (e["type"] == "directory") continue;
    ++files;
    ASSERT_TRUE(expected["files"].contains(path)) << path;
    EXPECT_EQ(e["size"], expected["files"][path]["size"]) << path;
    RunResult got = RunCli({"--store", corpus.path().string(), "get", path, "-"}, env);
    ASSERT_EQ(got.exit_code, 0) << got.err;
    EXPECT_EQ(Sha256Hex(got.out), expected["files"][path]["sha256"]) << path;
  }
  EXPECT_EQ(files, expected["files"].size());
  RunResult conflicts = RunCli({"--json", "--store", corpus.path().string(), "conflicts"}, env);
  ASSERT_EQ(conflicts.exit_code, 0);
  EXPECT_EQ(Json::parse(conflicts.out)[0]["path"], "shared/plan.txt");
}

TEST_F(FilesCli, CorruptContentFailsCleanlyAndLeavesNoFile) {
  std::string big = RandomBytes(6 * 1024 * 1024, 7);
  WriteText(work_ / "big.bin", big);
  ASSERT_EQ(Run({"put", (work_ / "big.bin").string()}).exit_code, 0);
  // Flip a byte in every block except the manifest-sized small one.
  for (const auto& entry : fs::directory_iterator(StorePath() / "blocks")) {
    if (fs::file_size(entry.path()) < 100000) continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x42');
  }
  fs::create_directories(work_ / "out");
  RunResult got = Run({"get", "big.bin", (work_ / "out" / "big.bin").string()});
  EXPECT_NE(got.exit_code, 0);
  EXPECT_NE(got.err.find("corrupt"), std::string::npos) << got.err;
  EXPECT_TRUE(fs::is_empty(work_ / "out"));  // no partial file, no temp left
  EXPECT_EQ(Run({"verify"}).exit_code, 1);
}

TEST_F(FilesCli, BadInputGetsOneLineAndNonZeroExit) {
  struct Case {
    std::vector<std::string> args;
  };
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"put", (work_ / "missing").string()},
           {"get", "nope.txt", "-"},
           {"mv", "nope", "else"},
           {"rm", "nope"},
           {"history", "nope"},
           {"get", "--version", "zz", "x", "-"},
           {"put", "-", "--to", "a/../b"},
           {"mkdir", "a/./b"},
       }) {
    RunResult r = Run(args, "data");
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("nearbytes: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace nb
