// The one durable writer (store/file_io.h): the order of fsync, rename and
// directory fsync, observed step by step; failures injected at each step;
// symlinks never followed; every small-file writer of the product going
// through it; and temps of a killed writer reaped at the next write.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>

#include "apps/profile/identity.h"
#include "hub/home.h"
#include "hub/keyring.h"
#include "store/batch_publisher.h"
#include "store/file_io.h"
#include "store/storage_root.h"
#include "testing/test_support.h"

namespace nb::store {
namespace {

using nb::testing::ReadText;
using nb::testing::TempDir;
using nb::testing::WriteText;

// Records every durable step; can fail one kind of step.
class StepRecorder : public IoObserver {
 public:
  StepRecorder() { SetIoObserver(this); }
  ~StepRecorder() override { SetIoObserver(nullptr); }

  Status Before(IoStep step, const fs::path& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    steps_.emplace_back(step, path);
    if (fail_ && *fail_ == step) return MakeError(ErrorCode::kIo, "injected failure");
    return Status::Ok();
  }
  void FailAt(IoStep step) { fail_ = step; }

  // Position of the first `step` on `path` (any path if empty); -1 if none.
  int First(IoStep step, const fs::path& path = {}, int after = -1) const {
    for (size_t i = static_cast<size_t>(after + 1); i < steps_.size(); ++i) {
      if (steps_[i].first == step && (path.empty() || steps_[i].second == path)) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
  int Last(IoStep step) const {
    for (size_t i = steps_.size(); i-- > 0;) {
      if (steps_[i].first == step) return static_cast<int>(i);
    }
    return -1;
  }
  std::string Trace() const {
    std::string out;
    for (const auto& [step, path] : steps_)
      out += std::string(IoStepName(step)) + " " + path.string() + "\n";
    return out;
  }
  const std::vector<std::pair<IoStep, fs::path>>& steps() const { return steps_; }

 private:
  std::mutex mu_;
  std::vector<std::pair<IoStep, fs::path>> steps_;
  std::optional<IoStep> fail_;
};

std::vector<std::string> Names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The three steps of a durable write on `file`, in order: data sync, then
// the name (`name_step`), then the directory sync.
void ExpectDurableOrder(const StepRecorder& rec, const fs::path& file, IoStep name_step) {
  int sync = rec.First(IoStep::kSyncFile, file);
  int name = rec.First(name_step, file);
  int dir = rec.First(IoStep::kSyncDirectory, file.parent_path(), name);
  ASSERT_GE(sync, 0) << "no fsync of the data of " << file << "\n" << rec.Trace();
  ASSERT_GE(name, 0) << rec.Trace();
  ASSERT_GE(dir, 0) << "no fsync of the directory\n" << rec.Trace();
  EXPECT_LT(sync, name) << rec.Trace();
  EXPECT_LT(name, dir) << rec.Trace();
}

TEST(DurableOrder, AtomicPublishSyncsDataThenLinksThenSyncsTheDirectory) {
  TempDir dir;
  StepRecorder rec;
  ASSERT_TRUE(AtomicPublish(dir.path(), "block.bin", AsBytes("content")).ok());
  ExpectDurableOrder(rec, dir / "block.bin", IoStep::kPublish);
  EXPECT_EQ(rec.First(IoStep::kCreateTemp), 0);
}

TEST(DurableOrder, ReplaceSyncsDataThenRenamesThenSyncsTheDirectory) {
  TempDir dir;
  WriteText(dir / "config.json", "old");
  StepRecorder rec;
  ASSERT_TRUE(ReplaceFileDurably(dir / "config.json", AsBytes("new")).ok());
  ExpectDurableOrder(rec, dir / "config.json", IoStep::kReplace);
  EXPECT_EQ(ReadText(dir / "config.json"), "new");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"config.json"});
}

TEST(DurableOrder, StreamingWriterCommitsInTheSameOrderAndShowsNothingBefore) {
  TempDir dir;
  StepRecorder rec;
  auto writer = DurableFileWriter::Create(dir / "big.dat");
  ASSERT_TRUE(writer.ok()) << writer.error().message;
  ASSERT_TRUE(writer->Write(AsBytes("part one, ")).ok());
  ASSERT_TRUE(writer->Write(AsBytes("part two")).ok());
  ASSERT_TRUE(writer->SetModifiedTime(1700000000123).ok());
  EXPECT_FALSE(fs::exists(dir / "big.dat"));
  ASSERT_TRUE(writer->Commit().ok());
  ExpectDurableOrder(rec, dir / "big.dat", IoStep::kReplace);
  EXPECT_EQ(ReadText(dir / "big.dat"), "part one, part two");
  struct stat st;
  ASSERT_EQ(::stat((dir / "big.dat").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123000000);
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"big.dat"});
}

TEST(DurableOrder, BatchSyncsEverythingBeforeAnyNameAndBlocksBeforeEvents) {
  TempDir dir;
  auto root = StorageRoot::Open(dir.path(), true);
  ASSERT_TRUE(root.ok());
  std::string channel = "04" + std::string(128, 'a');
  StepRecorder rec;
  BatchPublisher batch(&*root);
  Bytes block = ToBytes("a block");
  crypto::Hash256 block_hash = crypto::Sha256(block);
  crypto::Hash256 event_hash = crypto::Sha256(AsBytes("event"));
  ASSERT_TRUE(batch.StageEvent(channel, event_hash, AsBytes("{}")).ok());
  ASSERT_TRUE(batch.StageBlock(block_hash, block).ok());
  ASSERT_TRUE(batch.Commit().ok());
  int sync_all = rec.First(IoStep::kSyncFileSystem);
  int block_named = rec.First(IoStep::kPublish, root->block_path(block_hash));
  int event_named = rec.First(IoStep::kPublish, root->event_path(channel, event_hash));
  int blocks_dir_synced = rec.First(IoStep::kSyncDirectory, root->blocks_dir(), block_named);
  ASSERT_GE(sync_all, 0) << rec.Trace();
  EXPECT_LT(sync_all, block_named) << rec.Trace();
  EXPECT_LT(block_named, blocks_dir_synced) << rec.Trace();
  EXPECT_LT(blocks_dir_synced, event_named) << rec.Trace();
  EXPECT_LT(event_named, rec.Last(IoStep::kSyncDirectory)) << rec.Trace();
}

TEST(DurableWriter, TheBatchFormShowsNoNameUntilPublishedAndAbandonsCleanly) {
  TempDir dir;
  {
    auto kept = DurableFileWriter::Create(dir / "kept.txt");
    auto dropped = DurableFileWriter::Create(dir / "dropped.txt");
    ASSERT_TRUE(kept.ok() && dropped.ok());
    ASSERT_TRUE(kept->Write(AsBytes("kept")).ok());
    ASSERT_TRUE(dropped->Write(AsBytes("dropped")).ok());
    ASSERT_TRUE(kept->CloseUnsynced().ok());
    ASSERT_TRUE(dropped->CloseUnsynced().ok());
    EXPECT_FALSE(fs::exists(dir / "kept.txt"));
    ASSERT_TRUE(SyncFileSystemOf(dir.path()).ok());
    ASSERT_TRUE(kept->PublishSynced().ok());
    EXPECT_FALSE(kept->PublishSynced().ok());  // once only
  }
  // The one never published left no temp behind.
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"kept.txt"});
  EXPECT_EQ(ReadText(dir / "kept.txt"), "kept");
}

TEST(DurableFaults, AFailureAtAnyStepLeavesTheOldFileAndNoTemp) {
  for (IoStep step : {IoStep::kCreateTemp, IoStep::kSyncFile, IoStep::kReplace}) {
    TempDir dir;
    WriteText(dir / "secrets", "old");
    StepRecorder rec;
    rec.FailAt(step);
    Status status = ReplaceFileDurably(dir / "secrets", AsBytes("new"));
    ASSERT_FALSE(status.ok()) << IoStepName(step);
    EXPECT_EQ(ReadText(dir / "secrets"), "old") << IoStepName(step);
    EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"secrets"}) << IoStepName(step);
  }
}

TEST(DurableFaults, AFailedDataSyncPublishesNothing) {
  TempDir dir;
  StepRecorder rec;
  rec.FailAt(IoStep::kSyncFile);
  EXPECT_FALSE(AtomicPublish(dir.path(), "x.bin", AsBytes("x")).ok());
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(DurableWriter, AnAbandonedWriterLeavesNothing) {
  TempDir dir;
  WriteText(dir / "keep.txt", "old");
  {
    auto writer = DurableFileWriter::Create(dir / "keep.txt");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Write(AsBytes("half")).ok());
  }
  EXPECT_EQ(ReadText(dir / "keep.txt"), "old");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"keep.txt"});
}

TEST(DurableWriter, IfExistsFailNeverReplaces) {
  TempDir dir;
  WriteText(dir / "mine", "old");
  Status status = ReplaceFileDurably(dir / "mine", AsBytes("new"),
                                     {.mode = 0644, .if_exists = IfExists::kFail});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("already exists"), std::string::npos);
  EXPECT_EQ(ReadText(dir / "mine"), "old");
  EXPECT_EQ(Names(dir.path()), std::vector<std::string>{"mine"});
}

TEST(DurableWriter, APlantedSymlinkIsReplacedNotFollowed) {
  TempDir dir;
  WriteText(dir / "victim", "precious");
  fs::create_symlink(dir / "victim", dir / "out.txt");
  ASSERT_TRUE(ReplaceFileDurably(dir / "out.txt", AsBytes("downloaded")).ok());
  EXPECT_EQ(ReadText(dir / "victim"), "precious");
  EXPECT_FALSE(fs::is_symlink(dir / "out.txt"));
  EXPECT_EQ(ReadText(dir / "out.txt"), "downloaded");
}

// An attacker who guessed the temp name (or won a race) and planted a
// symlink there: the create refuses it instead of writing through it.
class PlantSymlinkAtTemp : public IoObserver {
 public:
  explicit PlantSymlinkAtTemp(fs::path target) : target_(std::move(target)) { SetIoObserver(this); }
  ~PlantSymlinkAtTemp() override { SetIoObserver(nullptr); }
  Status Before(IoStep step, const fs::path& path) override {
    if (step == IoStep::kCreateTemp) fs::create_symlink(target_, path);
    return Status::Ok();
  }

 private:
  fs::path target_;
};

TEST(DurableWriter, ASymlinkPlantedAtTheTempNameIsNeverFollowed) {
  TempDir dir;
  WriteText(dir / "victim", "precious");
  {
    PlantSymlinkAtTemp plant(dir / "victim");
    EXPECT_FALSE(ReplaceFileDurably(dir / "out.txt", AsBytes("evil")).ok());
    EXPECT_FALSE(AtomicPublish(dir.path(), "x.bin", AsBytes("evil")).ok());
  }
  EXPECT_EQ(ReadText(dir / "victim"), "precious");
  EXPECT_FALSE(fs::exists(dir / "out.txt"));
  EXPECT_FALSE(fs::exists(dir / "x.bin"));
}

TEST(DurableWriter, TempNamesAreUnpredictableAndCarryTheHost) {
  std::string a = TempNameFor("x.bin"), b = TempNameFor("x.bin");
  EXPECT_NE(a, b);
  EXPECT_TRUE(IsThisHostsTempName(a));
  EXPECT_FALSE(IsThisHostsTempName(".tmp-1-aa-old.bin"));
  EXPECT_LE(TempNameFor(std::string(255, 'n')).size(), 255u);
}

TEST(DurableWriter, ModeIsExactWhateverTheUmask) {
  TempDir dir;
  mode_t old = ::umask(0);
  Status status = ReplaceFileDurably(dir / "secret", AsBytes("s"), {.mode = 0600});
  ::umask(old);
  ASSERT_TRUE(status.ok());
  struct stat st;
  ASSERT_EQ(::stat((dir / "secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(DurableWriter, ErrorsNameTheUsersFileNotTheTemp) {
  TempDir dir;
  Status status = ReplaceFileDurably(dir / "absent" / "file.txt", AsBytes("x"));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("file.txt"), std::string::npos);
  EXPECT_EQ(status.error().message.find(".tmp-"), std::string::npos) << status.error().message;
}

// Every writer of small files goes through the durable writer: data sync,
// rename, directory sync, observed on its own file.
TEST(DurableUsers, KeyringIdentityAndExtraRootsAreReplacedDurably) {
  TempDir home;
  ::setenv("NEARBYTES_HOME", home.path().c_str(), 1);
  StepRecorder rec;
  auto keyring = hub::Keyring::Load(home.path());
  ASSERT_TRUE(keyring.ok());
  ASSERT_TRUE(keyring->Remember("04" + std::string(128, 'b'), "name:pw").ok());
  ASSERT_TRUE(apps::profile::WriteIdentityFile(home / "identity", "id-secret", false).ok());
  ASSERT_TRUE(hub::SaveExtraRoots({home / "cloud"}).ok());
  ::unsetenv("NEARBYTES_HOME");
  ExpectDurableOrder(rec, home / "secrets", IoStep::kReplace);
  ExpectDurableOrder(rec, home / "identity", IoStep::kPublish);
  ExpectDurableOrder(rec, home / "config.json", IoStep::kReplace);
  struct stat st;
  ASSERT_EQ(::stat((home / "secrets").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((home / "identity").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(Names(home.path()), (std::vector<std::string>{"config.json", "identity", "secrets"}));
}

// ---- temps of killed writers ----

size_t CountTemps(const StorageRoot& root) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(root.path())) {
    if (e.path().filename().string().rfind(".tmp-", 0) == 0) ++n;
  }
  return n;
}

// In a child process: joins the writers of `path`, stages a block (a temp
// that only Commit would name), then either dies by SIGKILL or waits.
pid_t StartWriter(const fs::path& path, bool die, int* ready_fd, int* go_fd) {
  int ready[2], go[2];
  EXPECT_EQ(::pipe(ready), 0);
  EXPECT_EQ(::pipe(go), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    auto root = StorageRoot::Open(path, false);
    BatchPublisher batch(&*root);
    Bytes block = ToBytes("staged by a writer that never commits");
    (void)batch.StageBlock(crypto::Sha256(block), block);
    char c = 'r';
    (void)!::write(ready[1], &c, 1);
    if (die) ::kill(::getpid(), SIGKILL);
    (void)!::read(go[0], &c, 1);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(go[0]);
  *ready_fd = ready[0];
  *go_fd = go[1];
  char c;
  EXPECT_EQ(::read(ready[0], &c, 1), 1);
  return pid;
}

TEST(TempReaper, TempsOfAKilledWriterGoAtTheNextWrite) {
  TempDir dir;
  ASSERT_TRUE(StorageRoot::Open(dir.path(), true).ok());
  int ready, go;
  pid_t pid = StartWriter(dir.path(), /*die=*/true, &ready, &go);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFSIGNALED(wstatus));
  auto root = StorageRoot::Open(dir.path(), false);
  ASSERT_EQ(CountTemps(*root), 1u);  // fresh: the hour-based reaper would keep it
  ASSERT_TRUE(root->PutBlock(AsBytes("next write")).ok());
  EXPECT_EQ(CountTemps(*root), 0u);
  ::close(ready);
  ::close(go);
}

TEST(TempReaper, ALiveWritersTempsAreKept) {
  TempDir dir;
  ASSERT_TRUE(StorageRoot::Open(dir.path(), true).ok());
  int ready, go;
  pid_t pid = StartWriter(dir.path(), /*die=*/false, &ready, &go);
  auto root = StorageRoot::Open(dir.path(), false);
  ASSERT_EQ(CountTemps(*root), 1u);
  ASSERT_TRUE(root->PutBlock(AsBytes("concurrent write")).ok());
  EXPECT_EQ(CountTemps(*root), 1u);
  // gc cannot start while that writer lives.
  EXPECT_FALSE(root->LockExclusively().ok());
  char c = 'g';
  ASSERT_EQ(::write(go, &c, 1), 1);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ::close(ready);
  ::close(go);
}

}  // namespace
}  // namespace nb::store
