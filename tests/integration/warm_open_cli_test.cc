// The command right after a put finds the local state current (the put
// recorded its events and stored the FILES projection), yet still sees what
// someone else dropped into the store meanwhile: a cloud folder client
// copying another device's event and block files in, or a damaged cache.
#include <gtest/gtest.h>

#include "testing/test_support.h"

namespace nb {
namespace {

using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;
using nb::testing::WriteText;
namespace fs = std::filesystem;

constexpr const char* kSecret = "warm-open-test:a shared passphrase";

class WarmOpenCli : public ::testing::Test {
 protected:
  std::map<std::string, std::string> Env(const std::string& home) const {
    return {{"NEARBYTES_HOME", (dir_ / home).string()}, {"NEARBYTES_SECRET", kSecret}};
  }
  fs::path Store(const std::string& home) const { return dir_ / home / "store"; }

  // Copies the files another device wrote that this store lacks, as a
  // folder-syncing client does (no nearbytes process involved).
  void DropInWhatIsMissing(const fs::path& from, const fs::path& to) {
    for (const auto& sub : {fs::path("blocks"), fs::path("channels")}) {
      for (const auto& entry : fs::recursive_directory_iterator(from / sub)) {
        fs::path target = to / sub / fs::relative(entry.path(), from / sub);
        if (entry.is_directory()) {
          fs::create_directories(target);
        } else if (!fs::exists(target)) {
          fs::copy_file(entry.path(), target);
        }
      }
    }
  }

  TempDir dir_;
};

TEST_F(WarmOpenCli, ListRightAfterAPutSeesFilesDroppedInBySomeoneElse) {
  for (const char* home : {"mine", "theirs"}) {
    ASSERT_EQ(RunCli({"hub", "create"}, Env(home)).exit_code, 0);
  }
  for (int i = 0; i < 20; ++i) {
    WriteText(dir_ / "tree" / ("f" + std::to_string(i) + ".txt"), "file " + std::to_string(i));
  }
  WriteText(dir_ / "other.txt", "from the other device\n");
  ASSERT_EQ(RunCli({"put", (dir_ / "tree").string(), "--to", "docs"}, Env("mine")).exit_code, 0);
  ASSERT_EQ(
      RunCli({"put", (dir_ / "other.txt").string(), "--to", "elsewhere/other.txt"}, Env("theirs"))
          .exit_code,
      0);
  DropInWhatIsMissing(Store("theirs"), Store("mine"));

  RunResult listed = RunCli({"ls", "-r"}, Env("mine"));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("elsewhere/other.txt"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("docs/f19.txt"), std::string::npos) << listed.out;
  RunResult got = RunCli({"cat", "elsewhere/other.txt"}, Env("mine"));
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(got.out, "from the other device\n");

  // The next put, then another device's write dropped in again.
  WriteText(dir_ / "later.txt", "later\n");
  ASSERT_EQ(RunCli({"put", (dir_ / "later.txt").string(), "--to", "docs/later.txt"}, Env("mine"))
                .exit_code,
            0);
  ASSERT_EQ(RunCli({"rm", "elsewhere/other.txt"}, Env("theirs")).exit_code, 0);
  DropInWhatIsMissing(Store("theirs"), Store("mine"));
  listed = RunCli({"ls", "-r"}, Env("mine"));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(listed.out.find("elsewhere/other.txt"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("docs/later.txt"), std::string::npos) << listed.out;
}

TEST_F(WarmOpenCli, AGarbledStateDatabaseIsRebuiltNotTrusted) {
  ASSERT_EQ(RunCli({"hub", "create"}, Env("mine")).exit_code, 0);
  for (int i = 0; i < 10; ++i) {
    WriteText(dir_ / "tree" / ("f" + std::to_string(i) + ".txt"), "file " + std::to_string(i));
  }
  ASSERT_EQ(RunCli({"put", (dir_ / "tree").string(), "--to", "docs"}, Env("mine")).exit_code, 0);
  fs::path state = Store("mine") / ".nearbytes" / "state.sqlite";
  ASSERT_TRUE(fs::exists(state));
  // Garbage over the database (its WAL dropped): never trusted, never a crash.
  fs::remove(state.string() + "-wal");
  fs::remove(state.string() + "-shm");
  WriteText(state, std::string(8192, 'x'));
  RunResult listed = RunCli({"ls", "-r"}, Env("mine"));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(listed.out.find("docs/f" + std::to_string(i) + ".txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace nb
