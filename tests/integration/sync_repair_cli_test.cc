// Folder sync, issue 10: repairs of blocks missing on one side, the folder's
// placement (--create, never inside the store), links never followed, junk
// reported once, summary figures that are never negative or mislabelled, and
// messages that name the user's files rather than temp files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <fstream>
#include <random>

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

constexpr const char* kSecret = "sync-repair-test:our shared secret";

class Device {
 public:
  explicit Device(const fs::path& home, std::string secret = kSecret) : home_(home) {
    env_["NEARBYTES_HOME"] = home.string();
    if (!secret.empty()) env_["NEARBYTES_SECRET"] = secret;
  }
  RunResult Run(const std::vector<std::string>& args) const { return RunCli(args, env_); }
  Json RunJson(const std::vector<std::string>& args) const {
    std::vector<std::string> full{"--json"};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = Run(full);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.err;
    auto parsed = Json::parse(r.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << r.out << r.err;
    return parsed;
  }
  std::string Get(const std::string& path) const {
    RunResult r = Run({"get", path, "-"});
    return r.exit_code == 0 ? r.out : "<unreadable: " + r.err + ">";
  }
  void Put(const std::string& path, const std::string& text) const {
    static int counter = 0;
    fs::path local = home_.parent_path() / "sources" / std::to_string(++counter);
    WriteText(local, text);
    RunResult r = Run({"put", local.string(), "--to", path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  fs::path home() const { return home_; }
  fs::path store() const { return home_ / "store"; }

 private:
  fs::path home_;
  std::map<std::string, std::string> env_;
};

std::vector<fs::path> Files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(".tmp", 0) != 0) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::string data(n, '\0');
  std::mt19937 rng(seed);
  for (auto& ch : data) ch = static_cast<char>(rng());
  return data;
}

size_t Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

// ---- §2: sync repairs --------------------------------------------------

TEST(SyncRepair, ABlockQuarantinedHereIsFetchedFromTheStick) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("doc.txt", "the only copy of my notes");
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  ASSERT_EQ(b.Run({"sync", stick.string()}).exit_code, 0);
  ASSERT_EQ(b.Get("doc.txt"), "the only copy of my notes");
  // The block rots on b; verify finds it and quarantines it.
  auto blocks = Files(b.store() / "blocks");
  ASSERT_EQ(blocks.size(), 1u);
  WriteText(blocks[0], "bit rot");
  EXPECT_EQ(b.Run({"verify"}).exit_code, 1);
  ASSERT_FALSE(fs::exists(blocks[0]));
  EXPECT_NE(b.Run({"get", "doc.txt", "-"}).exit_code, 0);
  // No event is missing anywhere, but the stick holds a good copy: sync fetches it.
  Json repaired = b.RunJson({"sync", stick.string()});
  EXPECT_EQ(repaired["pulled"]["events"], 0);
  EXPECT_EQ(repaired["pulled"]["blocks"], 1) << repaired.dump();
  EXPECT_EQ(repaired["pulled"]["repaired"], 1);
  EXPECT_EQ(b.Get("doc.txt"), "the only copy of my notes");
  EXPECT_EQ(b.Run({"verify"}).exit_code, 0);
}

TEST(SyncRepair, ABlockMissingOnTheStickIsPutBack) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("doc.txt", "carried twice");
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  auto blocks = Files(stick / "blocks");
  ASSERT_EQ(blocks.size(), 1u);
  fs::remove(blocks[0]);
  Json pushed = a.RunJson({"sync", stick.string()});
  EXPECT_EQ(pushed["pushed"]["blocks"], 1) << pushed.dump();
  EXPECT_TRUE(fs::exists(blocks[0]));
  ASSERT_EQ(b.Run({"sync", stick.string()}).exit_code, 0);
  EXPECT_EQ(b.Get("doc.txt"), "carried twice");
}

TEST(SyncRepair, EveryChunkOfALargeFileIsFetchedAgain) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  std::string big = RandomBytes(6 * 1024 * 1024, 5);
  a.Put("big.bin", big);
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  ASSERT_EQ(b.Run({"sync", stick.string()}).exit_code, 0);
  ASSERT_TRUE(b.Get("big.bin") == big);
  // Lose every block here, the manifest included: its chunks are named only
  // inside it, so the manifest is read from the stick to find them.
  auto blocks = Files(b.store() / "blocks");
  ASSERT_GT(blocks.size(), 2u);
  for (const auto& block : blocks) fs::remove(block);
  Json repaired = b.RunJson({"sync", stick.string()});
  EXPECT_EQ(repaired["pulled"]["blocks"], blocks.size()) << repaired.dump();
  EXPECT_TRUE(b.Get("big.bin") == big);
  // The same from a machine without the secret (a courier): one chunk lost
  // on the stick is put back from the courier's copy.
  Device courier(root / "courier", "");
  ASSERT_EQ(courier.Run({"sync", "--all", stick.string()}).exit_code, 0);
  auto stick_blocks = Files(stick / "blocks");
  fs::remove(stick_blocks[1]);
  Json put_back = courier.RunJson({"sync", "--all", stick.string()});
  EXPECT_EQ(put_back["pushed"]["blocks"], 1) << put_back.dump();
  EXPECT_TRUE(fs::exists(stick_blocks[1]));
}

// ---- §5: where sync may write --------------------------------------------

TEST(SyncFolderPlacement, AMissingFolderNeedsCreate) {
  TempDir root;
  Device a(root / "a");
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("doc.txt", "x");
  fs::path typo = root / "stcik";
  RunResult r = a.Run({"sync", typo.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--create"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(typo));
  // An existing folder that is not a Nearbytes folder: the same.
  fs::path documents = root / "documents";
  WriteText(documents / "letter.txt", "dear");
  r = a.Run({"sync", documents.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--create"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(documents / "blocks"));
  EXPECT_FALSE(fs::exists(documents / "channels"));
  // With --create it is made; later runs need no flag.
  ASSERT_EQ(a.Run({"sync", "--create", typo.string()}).exit_code, 0);
  EXPECT_EQ(a.Run({"sync", typo.string()}).exit_code, 0);
}

TEST(SyncFolderPlacement, TheStoreAndFoldersInsideItAreRefused) {
  TempDir root;
  Device a(root / "a");
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("doc.txt", "x");
  for (const fs::path& bad : {a.store(), a.store() / "blocks", a.store() / "inside"}) {
    RunResult r = a.Run({"sync", "--create", bad.string()});
    EXPECT_NE(r.exit_code, 0) << bad;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find("store"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(a.store() / "inside"));
  EXPECT_EQ(Files(a.store() / "blocks").size(), 1u);
  // A store inside the folder's blocks/ would be taken for junk: refused.
  fs::path outer = root / "outer";
  RunResult r =
      a.Run({"--store", (outer / "blocks" / "store").string(), "sync", "--create", outer.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("inside"), std::string::npos) << r.err;
  // The store elsewhere inside the folder is harmless: the folder's files
  // are only blocks/, channels/ and .nearbytes/ at its top.
  EXPECT_EQ(a.Run({"sync", "--create", a.home().string()}).exit_code, 0);
  EXPECT_EQ(a.Run({"verify"}).exit_code, 0);
  EXPECT_EQ(a.Get("doc.txt"), "x");
}

TEST(SyncFolderLinks, LinksOutOfTheFolderAreNeverFollowed) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("doc.txt", "mine");
  fs::path outside = root / "outside";
  fs::create_directories(outside);
  // blocks/ itself a link: the sync stops with one line, nothing is written there.
  fs::path linked = root / "linked";
  fs::create_directories(linked);
  fs::create_directory_symlink(outside, linked / "blocks");
  RunResult r = a.Run({"sync", "--create", linked.string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("symbolic link"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(outside));

  // Links inside a real folder: a block-named link to a file outside, and a
  // channel directory that is a link. Moved aside, never read or written.
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  WriteText(outside / "private.txt", "not for the stick");
  std::string fake_block = std::string(64, 'c') + ".bin";
  fs::create_symlink(outside / "private.txt", stick / "blocks" / fake_block);
  std::string fake_hub = "04" + std::string(128, 'd');
  fs::create_directory_symlink(outside, stick / "channels" / fake_hub);
  r = b.Run({"sync", "--all", stick.string()});
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("2 symbolic link(s)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::is_symlink(stick / "blocks" / fake_block));
  EXPECT_FALSE(fs::exists(stick / "channels" / fake_hub));
  EXPECT_FALSE(fs::exists(b.store() / "blocks" / fake_block));
  EXPECT_FALSE(fs::exists(b.store() / "channels" / fake_hub));
  EXPECT_EQ(ReadText(outside / "private.txt"), "not for the stick");
  EXPECT_EQ(Files(outside).size(), 1u);
  EXPECT_EQ(b.Get("doc.txt"), "mine");
  r = b.Run({"sync", "--all", stick.string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
}

TEST(SyncFolderJunk, JunkIsReportedInOneLineAndQuarantinedOnce) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("one.txt", "one");
  a.Put("two.txt", "two");
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  std::string hub = a.RunJson({"hub", "info"})["id"];
  fs::path channel = stick / "channels" / hub;
  auto events = Files(channel);
  ASSERT_EQ(events.size(), 2u);
  // Wrong names, a temp file left by a crash long ago, a stray file among
  // the hubs, and an event copied under a name that is not its hash.
  WriteText(stick / "blocks" / "notes.txt", "hello");
  WriteText(stick / "blocks" / "Thumbs.db", "x");
  fs::path old_temp = stick / "blocks" / ".tmp-123-abc";
  WriteText(old_temp, "partial");
  fs::last_write_time(old_temp, fs::file_time_type::clock::now() - std::chrono::hours(3));
  fs::path fresh_temp = stick / "blocks" / ".tmp-456-def";  // a writer still at work
  WriteText(fresh_temp, "in flight");
  WriteText(stick / "channels" / "README", "x");
  fs::copy_file(events[0], channel / (std::string(64, 'e') + ".bin"));
  // A stray directory, and a channel named like a hub whose key is no key.
  WriteText(stick / "blocks" / "photos" / "cat.jpg", "meow");
  fs::path not_a_key = stick / "channels" / ("04" + std::string(128, 'f'));
  WriteText(not_a_key / (std::string(64, 'a') + ".bin"), "{}");

  RunResult first = b.Run({"sync", stick.string()});
  EXPECT_EQ(first.exit_code, 1);  // completed, with something refused
  EXPECT_EQ(Lines(first.err), 1u) << first.err;
  EXPECT_NE(first.err.find("1 corrupt or forged"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("5 misnamed"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("1 leftover temp"), std::string::npos) << first.err;
  EXPECT_EQ(first.err.find(".tmp-"), std::string::npos) << first.err;
  EXPECT_FALSE(fs::exists(stick / "blocks" / "notes.txt"));
  EXPECT_FALSE(fs::exists(old_temp));
  EXPECT_TRUE(fs::exists(fresh_temp));
  EXPECT_FALSE(fs::exists(channel / (std::string(64, 'e') + ".bin")));
  EXPECT_FALSE(fs::exists(not_a_key));
  EXPECT_FALSE(fs::exists(stick / "blocks" / "photos"));
  EXPECT_TRUE(fs::exists(stick / ".nearbytes" / "quarantine" / "reasons.log"));
  EXPECT_EQ(b.Get("one.txt"), "one");
  EXPECT_EQ(b.Get("two.txt"), "two");
  // Quarantined once: the next run (on any machine) is quiet.
  RunResult second = b.Run({"sync", stick.string()});
  EXPECT_EQ(second.exit_code, 0);
  EXPECT_EQ(second.err, "");
  RunResult third = a.Run({"sync", "--all", stick.string()});
  EXPECT_EQ(third.exit_code, 0);
  EXPECT_EQ(third.err, "");
}

TEST(SyncFolderJunk, ACorruptBlockHereIsReportedOnceToo) {
  TempDir root;
  Device a(root / "a");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  a.Put("doc.txt", "soon damaged");
  auto blocks = Files(a.store() / "blocks");
  ASSERT_EQ(blocks.size(), 1u);
  WriteText(blocks[0], "damaged");
  RunResult r = a.Run({"sync", stick.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("1 corrupt"), std::string::npos) << r.err;
  EXPECT_TRUE(Files(stick / "blocks").empty());
  r = a.Run({"sync", stick.string()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
}

// ---- §3: what the summary says ------------------------------------------

TEST(SyncSummary, DeletesRenamesAndEditsAreCountedAsSuchNeverNegative) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("gone.txt", "1");
  a.Put("old-name.txt", "2");
  a.Put("edited.txt", "3");
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  Json first = b.RunJson({"sync", stick.string()});
  EXPECT_EQ(first["readings"][0]["newFiles"], 3);
  ASSERT_EQ(a.Run({"rm", "gone.txt"}).exit_code, 0);
  ASSERT_EQ(a.Run({"mv", "old-name.txt", "new-name.txt"}).exit_code, 0);
  a.Put("edited.txt", "3, edited");
  ASSERT_EQ(a.Run({"sync", stick.string()}).exit_code, 0);
  Json second = b.RunJson({"sync", stick.string()});
  const Json& g = second["readings"][0];
  EXPECT_EQ(g["newFiles"], 0) << g.dump();
  EXPECT_EQ(g["removedFiles"], 1) << g.dump();
  EXPECT_EQ(g["renamedFiles"], 1) << g.dump();
  EXPECT_EQ(g["changedFiles"], 1) << g.dump();
  EXPECT_EQ(g["newEvents"], 3) << g.dump();
  EXPECT_EQ(g["files"], 2);
  // The same in words.
  a.Put("later.txt", "4");
  ASSERT_EQ(a.Run({"rm", "new-name.txt"}).exit_code, 0);
  ASSERT_EQ(a.Run({"sync", stick.string()}).exit_code, 0);
  RunResult text = b.Run({"sync", stick.string()});
  EXPECT_NE(text.out.find("1 new file(s), 1 removed file(s)"), std::string::npos) << text.out;
  for (size_t at = text.out.find(" -"); at != std::string::npos; at = text.out.find(" -", at + 1)) {
    EXPECT_FALSE(std::isdigit(static_cast<unsigned char>(text.out[at + 2]))) << text.out;
  }
}

TEST(SyncSummary, AResolvedConflictIsNotANegativeNewConflict) {
  TempDir root;
  Device a(root / "a"), b(root / "b");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("plan.txt", "base");
  ASSERT_EQ(a.Run({"sync", "--create", stick.string()}).exit_code, 0);
  ASSERT_EQ(b.Run({"sync", stick.string()}).exit_code, 0);
  a.Put("plan.txt", "a's plan");
  b.Put("plan.txt", "b's plan");
  ASSERT_EQ(a.Run({"sync", stick.string()}).exit_code, 0);
  Json conflicted = b.RunJson({"sync", stick.string()});
  EXPECT_EQ(conflicted["readings"][0]["newConflicts"], 1);
  ASSERT_EQ(a.Run({"sync", stick.string()}).exit_code, 0);
  ASSERT_EQ(a.RunJson({"conflicts"}).size(), 1u);
  a.Put("plan.txt", "agreed plan");  // resolves the conflict
  ASSERT_EQ(a.RunJson({"conflicts"}).size(), 0u);
  ASSERT_EQ(a.Run({"sync", stick.string()}).exit_code, 0);
  Json resolved = b.RunJson({"sync", stick.string()});
  const Json& g = resolved["readings"][0];
  EXPECT_EQ(g["newConflicts"], 0) << g.dump();
  EXPECT_EQ(g["resolvedConflicts"], 1) << g.dump();
  EXPECT_EQ(g["changedFiles"], 1) << g.dump();
  EXPECT_EQ(g["conflicts"], 0) << g.dump();
  EXPECT_EQ(b.Get("plan.txt"), "agreed plan");
}

// ---- §5: messages name the user's files ----------------------------------

TEST(SyncMessages, AFailedWriteNamesTheBlockNotATempFile) {
  TempDir root;
  Device a(root / "a");
  fs::path stick = root / "stick";
  ASSERT_EQ(a.Run({"hub", "create"}).exit_code, 0);
  a.Put("big.bin", RandomBytes(3 * 1024 * 1024, 7));
  ASSERT_EQ(a.Run({"sync", "--create", "--pull", stick.string()}).exit_code, 0);
  // Files larger than 1 MiB cannot be written by the child (as on a full or
  // FAT-formatted stick): the write fails with EFBIG instead of a signal.
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 1 << 20;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  RunResult r = a.Run({"sync", stick.string()});
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.err.find(".tmp-"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find((stick / "blocks").string()), std::string::npos) << r.err;
  EXPECT_TRUE(Files(stick / "blocks").empty());
}

}  // namespace
}  // namespace nb
