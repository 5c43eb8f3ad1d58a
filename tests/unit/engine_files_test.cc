// The engine's files operations called directly: put a tree and export it
// back, the overwrite rules of get and export, rm and restore, restore at a
// point in time, mv, find and du.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "engine/content_out.h"
#include "engine/files_edit.h"
#include "engine/files_listing.h"
#include "engine/put.h"
#include "engine/put_cache.h"
#include "engine_test_support.h"
#include "store/file_io.h"

namespace nb::engine::testing {
namespace {

class EngineFilesTest : public HomeFixture {
 protected:
  void SetUp() override {
    HomeFixture::SetUp();
    node_ = NewNode(temp_ / "store", &hub_);
    // A tree with a small file, a chunked one (over 256 KiB), an empty
    // directory and a symbolic link (which put leaves out).
    src_ = temp_ / "src";
    Write(src_ / "notes.txt", "hello\n");
    Write(src_ / "deep" / "big.bin", RandomText(700 * 1024, 7));
    fs::create_directories(src_ / "empty");
    fs::create_symlink("notes.txt", src_ / "link");
  }

  FilesSession Session() {
    auto session = OpenFiles(*hub_);
    EXPECT_TRUE(session.ok()) << session.error().message;
    return std::move(*session);
  }

  PutResult PutTree(const std::vector<std::string>& sources, const std::string& to) {
    FilesSession session = Session();
    auto plan = PlanPut(session.reading(), sources, to);
    EXPECT_TRUE(plan.ok()) << plan.error().message;
    auto put = StorePut(session, *plan, nullptr);
    EXPECT_TRUE(put.ok()) << put.error().message;
    return *put;
  }

  std::unique_ptr<Node> node_;
  hub::Hub* hub_ = nullptr;
  fs::path src_;
};

TEST_F(EngineFilesTest, APutTreeExportsBackByteForByte) {
  FilesSession session = Session();
  auto plan = PlanPut(session.reading(), {src_.string()}, "");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->files.size(), 2u);
  EXPECT_EQ(plan->empty_dirs, std::vector<std::string>{"src/empty"});
  ASSERT_EQ(plan->skipped.size(), 1u);
  EXPECT_NE(plan->skipped[0].find("symbolic link"), std::string::npos);

  auto put = StorePut(session, *plan, nullptr);
  ASSERT_TRUE(put.ok()) << put.error().message;
  EXPECT_EQ(put->written, 2u);
  EXPECT_EQ(put->unchanged, 0u);
  EXPECT_EQ(put->bytes, 6u + 700 * 1024);

  fs::path out = temp_ / "out";
  auto exported = ExportTree(session, ExportOptions{"/", out, "", false}, nullptr);
  ASSERT_TRUE(exported.ok()) << exported.error().message;
  EXPECT_EQ(exported->written, 2u);
  EXPECT_TRUE(exported->skipped.empty());
  EXPECT_EQ(Read(out / "src" / "notes.txt"), "hello\n");
  EXPECT_EQ(Read(out / "src" / "deep" / "big.bin"), Read(src_ / "deep" / "big.bin"));
  EXPECT_TRUE(fs::is_directory(out / "src" / "empty"));
  EXPECT_FALSE(fs::exists(out / "src" / "link"));

  // Again: nothing changes on either side.
  PutResult again = PutTree({src_.string()}, "");
  EXPECT_EQ(again.written, 0u);
  EXPECT_EQ(again.unchanged, 2u);
  FilesSession reopened = Session();
  auto second = ExportTree(reopened, ExportOptions{"", out, "", false}, nullptr);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->written, 0u);
  EXPECT_EQ(second->unchanged, 2u);
}

// Records the durable steps of an export; can fail the file-system syncs.
class ExportSteps : public store::IoObserver {
 public:
  ExportSteps() { store::SetIoObserver(this); }
  ~ExportSteps() override { store::SetIoObserver(nullptr); }
  Status Before(store::IoStep step, const fs::path& path) override {
    steps.emplace_back(step, path);
    if (fail_syncs && step == store::IoStep::kSyncFileSystem) {
      return MakeError(ErrorCode::kIo, "injected failure");
    }
    return Status::Ok();
  }
  std::vector<std::pair<store::IoStep, fs::path>> steps;
  bool fail_syncs = false;
};

TEST_F(EngineFilesTest, ExportSyncsEveryFilesBytesBeforeItsNameAndTheNamesAfter) {
  PutTree({src_.string()}, "");
  FilesSession session = Session();
  fs::path out = temp_ / "out";
  {
    ExportSteps failing;
    failing.fail_syncs = true;
    EXPECT_FALSE(ExportTree(session, ExportOptions{"src", out, "", false}, nullptr).ok());
    // Nothing was named, and no temp is left behind.
    EXPECT_FALSE(fs::exists(out / "notes.txt"));
    for (const auto& entry : fs::recursive_directory_iterator(out)) {
      EXPECT_TRUE(entry.is_directory()) << entry.path();
    }
  }
  ExportSteps rec;
  auto exported = ExportTree(session, ExportOptions{"src", out, "", false}, nullptr);
  ASSERT_TRUE(exported.ok()) << exported.error().message;
  EXPECT_EQ(exported->written, 2u);
  int first_sync = -1, last_sync = -1, first_name = -1, last_name = -1;
  for (int i = 0; i < static_cast<int>(rec.steps.size()); ++i) {
    auto step = rec.steps[i].first;
    if (step == store::IoStep::kSyncFileSystem) {
      if (first_sync < 0) first_sync = i;
      last_sync = i;
    }
    if (step == store::IoStep::kPublish || step == store::IoStep::kReplace) {
      if (first_name < 0) first_name = i;
      last_name = i;
    }
  }
  ASSERT_GE(first_name, 0);
  EXPECT_LT(first_sync, first_name);
  EXPECT_GT(last_sync, last_name);
  EXPECT_EQ(Read(out / "notes.txt"), "hello\n");
}

TEST_F(EngineFilesTest, ExportSkipsADifferingLocalFileUnlessForced) {
  PutTree({src_.string()}, "");
  fs::path out = temp_ / "out";
  Write(out / "notes.txt", "mine\n");
  FilesSession session = Session();
  auto skipped = ExportTree(session, ExportOptions{"src", out, "", false}, nullptr);
  ASSERT_TRUE(skipped.ok());
  EXPECT_EQ(skipped->differing, 1u);
  ASSERT_EQ(skipped->skipped.size(), 1u);
  EXPECT_EQ(skipped->written, 1u);  // the other file went on
  EXPECT_EQ(Read(out / "notes.txt"), "mine\n");

  auto forced = ExportTree(session, ExportOptions{"src", out, "", true}, nullptr);
  ASSERT_TRUE(forced.ok());
  EXPECT_TRUE(forced->skipped.empty());
  EXPECT_EQ(forced->written, 1u);
  EXPECT_EQ(Read(out / "notes.txt"), "hello\n");
}

TEST_F(EngineFilesTest, GetNeverReplacesADifferentFileWithoutForce) {
  PutTree({src_.string()}, "");
  FilesSession session = Session();
  fs::path local = temp_ / "notes.txt";
  Write(local, "other\n");
  auto refused = GetFile(session, GetOptions{"/src/notes.txt", local.string(), "", false}, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Read(local), "other\n");

  auto forced = GetFile(session, GetOptions{"src/notes.txt", local.string(), "", true}, nullptr);
  ASSERT_TRUE(forced.ok()) << forced.error().message;
  EXPECT_FALSE(forced->unchanged);
  EXPECT_EQ(Read(local), "hello\n");

  auto same = GetFile(session, GetOptions{"src/notes.txt", local.string(), "", false}, nullptr);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->unchanged);

  // A directory as the target: the file goes in it, under its own name.
  fs::create_directories(temp_ / "dir");
  auto into =
      GetFile(session, GetOptions{"src/notes.txt", (temp_ / "dir").string(), "", false}, nullptr);
  ASSERT_TRUE(into.ok());
  EXPECT_EQ(Read(temp_ / "dir" / "notes.txt"), "hello\n");

  auto missing = GetFile(session, GetOptions{"src/none.txt", "", "", false}, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(EngineFilesTest, APlanThatWouldPutBelowALiveFileWritesNothing) {
  Write(temp_ / "x", "a file\n");
  PutTree({(temp_ / "x").string()}, "");
  size_t before = hub_->log().ListEventHashes().value().size();
  FilesSession session = Session();
  auto plan = PlanPut(session.reading(), {src_.string()}, "x/");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("a file exists at x"), std::string::npos);
  EXPECT_EQ(hub_->log().ListEventHashes().value().size(), before);
}

TEST_F(EngineFilesTest, RestoreBringsBackARemovedTreeOnce) {
  PutTree({src_.string()}, "");
  {
    FilesSession session = Session();
    auto removed = RemovePaths(session, {"src"}, /*recursive=*/true);
    ASSERT_TRUE(removed.ok()) << removed.error().message;
    EXPECT_FALSE(session.reading().IsDirectory("src"));
  }
  FilesSession session = Session();
  auto restored = RestorePath(session, "src", "");
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->restored, 2u);
  EXPECT_TRUE(restored->incomplete.empty());
  EXPECT_TRUE(session.reading().IsFile("src/notes.txt"));
  EXPECT_TRUE(session.reading().IsFile("src/deep/big.bin"));
  EXPECT_TRUE(session.reading().IsDirectory("src/empty"));

  fs::path out = temp_ / "out";
  auto exported = ExportTree(session, ExportOptions{"src", out, "", false}, nullptr);
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(Read(out / "deep" / "big.bin"), Read(src_ / "deep" / "big.bin"));

  // Live again: a second restore without --at is refused.
  auto again = RestorePath(session, "src", "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(EngineFilesTest, RestoreAtAnEventBringsBackThatVersion) {
  fs::path file = temp_ / "f.txt";
  Write(file, "first\n");
  PutResult first = PutTree({file.string()}, "");
  ASSERT_EQ(first.files.size(), 1u);
  std::string first_event = first.files[0].event->Hex();
  Write(file, "second, longer\n");
  PutTree({file.string()}, "");

  FilesSession session = Session();
  auto restored = RestorePath(session, "f.txt", first_event.substr(0, 12));
  ASSERT_TRUE(restored.ok()) << restored.error().message;
  EXPECT_EQ(restored->restored, 1u);
  auto got =
      GetFile(session, GetOptions{"f.txt", (temp_ / "back.txt").string(), "", false}, nullptr);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Read(temp_ / "back.txt"), "first\n");

  auto history = PathHistory(session, "f.txt");
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].event.Hex(), first_event);
  EXPECT_FALSE((*history)[0].live);
  EXPECT_TRUE(history->back().live);
  EXPECT_EQ(history->back().size, std::optional<uint64_t>(6));
}

TEST_F(EngineFilesTest, MoveFindAndDiskUsage) {
  PutTree({src_.string()}, "");
  FilesSession session = Session();
  ASSERT_TRUE(MakeDirectory(session, "/archive/", false).ok());
  auto moved = MovePath(session, "src/notes.txt", "archive");
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(moved->to, "archive/notes.txt");

  auto found = FindFiles(session.reading(), "*.TXT", "");
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].path, "archive/notes.txt");
  auto none = FindFiles(session.reading(), "nothing", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto du = DiskUsage(session, "");
  ASSERT_TRUE(du.ok());
  EXPECT_EQ(du->total.files, 2u);
  EXPECT_EQ(du->total.bytes, 6u + 700 * 1024);
  EXPECT_EQ(du->children.at("archive").bytes, 6u);
  EXPECT_EQ(du->unknown, 0u);

  auto listing = ListFiles(session, "src", /*recursive=*/true, "");
  ASSERT_TRUE(listing.ok());
  std::vector<std::string> paths;
  for (const auto& e : listing->entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"src/deep", "src/deep/big.bin", "src/empty"}));
}

// A put publishes its files in slices as it goes: when a source vanishes
// after the plan, the files of the slices before it are in the hub (and the
// message says so), and nothing of the failed slice is.
TEST_F(EngineFilesTest, APutThatFailsHalfWayKeepsTheSlicesItPublished) {
  fs::path many = temp_ / "many";
  constexpr int kFiles = 1500;  // more than one slice of 1,024
  for (int i = 0; i < kFiles; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "f%04d.txt", i);
    Write(many / name, "file " + std::to_string(i) + "\n");
  }
  FilesSession session = Session();
  auto plan = PlanPut(session.reading(), {many.string()}, "");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  ASSERT_EQ(plan->files.size(), size_t{kFiles});
  // The plan's order is the directory's; remove the file planned last.
  fs::remove(plan->files.back().local);

  auto put = StorePut(session, *plan, nullptr);
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.error().message.find("cannot open " + plan->files.back().local), std::string::npos)
      << put.error().message;
  EXPECT_NE(put.error().message.find("1024 of 1500 files were stored before this"),
            std::string::npos)
      << put.error().message;

  FilesSession reopened = Session();
  size_t files = 0;
  for (const auto& [path, entry] : reopened.reading().files()) files += path.starts_with("many/");
  EXPECT_EQ(files, 1024u);
  EXPECT_TRUE(reopened.reading().IsFile(plan->files.front().hub_path));
  EXPECT_FALSE(reopened.reading().IsFile(plan->files[1024].hub_path));
}

// The put cache (engine/put_cache.h): a tree put again is recognised as
// unchanged without reading its files; a file rewritten in place, even with
// its old modification time put back, is read again; a damaged cache only
// costs a full read; a hub file that changed since is put again. A put of
// a few files leaves the cache alone.
class EnginePutCacheTest : public EngineFilesTest {
 protected:
  void SetUp() override {
    EngineFilesTest::SetUp();
    tree_ = temp_ / "tree";
    // Enough files for a put to use the cache (it leaves puts of a few alone).
    for (size_t i = 0; i < kFiles; ++i) {
      Write(tree_ / ("f" + std::to_string(i) + ".txt"), RandomText(1000, 50 + i));
    }
    // Files modified in the last two seconds are never remembered (a write
    // in the same clock tick could leave the stamp as it was).
    std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  }
  fs::path CacheFile() { return PutCachePath(hub_->store().primary().state_dir(), hub_->id()); }
  static constexpr size_t kFiles = 70;
  fs::path tree_;
};

TEST_F(EnginePutCacheTest, ATreePutAgainIsNotReadAgain) {
  PutResult first = PutTree({tree_.string()}, "");
  EXPECT_EQ(first.written, kFiles);
  EXPECT_EQ(first.unchanged_unread, 0u);
  ASSERT_TRUE(fs::exists(CacheFile()));
  EXPECT_EQ(fs::status(CacheFile()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  PutResult again = PutTree({tree_.string()}, "");
  EXPECT_EQ(again.written, 0u);
  EXPECT_EQ(again.unchanged, kFiles);
  EXPECT_EQ(again.unchanged_unread, kFiles);

  // Same size, other bytes, and the old modification time put back: only
  // the change time tells, and it must.
  fs::path changed = tree_ / "f1.txt";
  struct stat before;
  ASSERT_EQ(::stat(changed.c_str(), &before), 0);
  Write(changed, RandomText(1000, 99));
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, changed.c_str(), times, 0), 0);
  PutResult third = PutTree({tree_.string()}, "");
  EXPECT_EQ(third.written, 1u);
  EXPECT_EQ(third.unchanged_unread, kFiles - 1);
  FilesSession session = Session();
  fs::path out = temp_ / "out.txt";
  auto got = GetFile(session, GetOptions{"tree/f1.txt", out.string(), "", false}, nullptr);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(Read(out), RandomText(1000, 99));
}

TEST_F(EnginePutCacheTest, ADamagedCacheOnlyCostsAFullRead) {
  PutTree({tree_.string()}, "");
  {
    std::fstream f(CacheFile(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  PutResult again = PutTree({tree_.string()}, "");
  EXPECT_EQ(again.unchanged, kFiles);
  EXPECT_EQ(again.unchanged_unread, 0u);
  // Rewritten whole by that put.
  EXPECT_EQ(PutTree({tree_.string()}, "").unchanged_unread, kFiles);
}

TEST_F(EnginePutCacheTest, AHubFileChangedSinceIsPutAgain) {
  PutTree({tree_.string()}, "");
  {
    FilesSession session = Session();
    ASSERT_TRUE(RemovePaths(session, {"tree/f2.txt"}, false).ok());
  }
  PutResult again = PutTree({tree_.string()}, "");
  EXPECT_EQ(again.written, 1u);
  EXPECT_EQ(again.unchanged_unread, kFiles - 1);
  FilesSession session = Session();
  EXPECT_TRUE(session.reading().IsFile("tree/f2.txt"));
}

TEST_F(EnginePutCacheTest, APutOfAFewFilesLeavesTheCacheAlone) {
  PutTree({(tree_ / "f0.txt").string(), (tree_ / "f1.txt").string()}, "few/");
  EXPECT_FALSE(fs::exists(CacheFile()));
}

}  // namespace
}  // namespace nb::engine::testing
