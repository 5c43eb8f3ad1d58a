// The daemon's shell: locks, the control socket, signals, and noticing what
// other processes write while it runs. Real `nearbytes serve` processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include "testing/daemon_support.h"
#include "testing/test_support.h"

namespace nb::testing {
namespace {

const char kSecret[] = "daemon-test:a long secret phrase for the daemon";

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(Daemon, StatusWithoutADaemonSaysSoInOneLine) {
  TempDir dir;
  RunResult result = RunCli({"status"}, {{"NEARBYTES_HOME", (dir / "home").string()}});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no daemon is running"), std::string::npos) << result.err;
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
}

TEST(Daemon, ServesRememberedHubsAndStopsCleanlyOnSigterm) {
  TempDir dir;
  auto home = dir / "home";
  ASSERT_EQ(
      RunCli({"hub", "create"}, {{"NEARBYTES_HOME", home.string()}, {"NEARBYTES_SECRET", kSecret}})
          .exit_code,
      0);
  DaemonProcess daemon(home);
  ASSERT_TRUE(daemon.Started()) << daemon.Log();
  auto status = daemon.Status();
  ASSERT_EQ(status["hubs"].size(), 1u) << status.dump();
  EXPECT_EQ(status["hubs"][0]["name"], "daemon-test");
  struct stat st;
  ASSERT_EQ(::stat((home / "control.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the control socket must be private to its user";
  EXPECT_EQ(daemon.Stop(), 0) << daemon.Log();
  EXPECT_NE(daemon.Log().find("stopping: SIGTERM"), std::string::npos) << daemon.Log();
  EXPECT_FALSE(fs::exists(home / "control.sock")) << "a stopped daemon leaves no socket behind";
}

TEST(Daemon, TwoDaemonsNeverServeOneHomeOrOneStore) {
  TempDir dir;
  DaemonProcess first(dir / "home");
  ASSERT_TRUE(first.Started()) << first.Log();
  RunResult same_home = RunCli({"serve"}, first.Env());
  EXPECT_EQ(same_home.exit_code, 1);
  EXPECT_NE(same_home.err.find("another daemon is already serving"), std::string::npos)
      << same_home.err;
  // Another home, but the first daemon's store.
  RunResult same_store =
      RunCli({"--store", (dir / "home" / "store").string(), "serve"},
             {{"NEARBYTES_HOME", (dir / "other-home").string()}, {"NEARBYTES_OFFLINE", "1"}});
  EXPECT_EQ(same_store.exit_code, 1);
  EXPECT_NE(same_store.err.find("another daemon is already serving"), std::string::npos)
      << same_store.err;
  EXPECT_FALSE(first.Status().is_null()) << "the first daemon keeps running";
}

TEST(Daemon, RestartsAfterBeingKilled) {
  TempDir dir;
  {
    DaemonProcess first(dir / "home");
    ASSERT_TRUE(first.Started()) << first.Log();
    first.Kill();
  }
  // The socket file is still there; the lock went with the process.
  DaemonProcess second(dir / "home");
  EXPECT_TRUE(second.Started()) << second.Log();
}

TEST(Daemon, NoticesHubsAndEventsWrittenByOtherProcesses) {
  TempDir dir;
  DaemonProcess daemon(dir / "home");
  ASSERT_TRUE(daemon.Started()) << daemon.Log();
  auto env = daemon.Env();
  env["NEARBYTES_SECRET"] = kSecret;
  ASSERT_EQ(RunCli({"hub", "create"}, env).exit_code, 0);
  // The secrets file changed: the daemon opens the hub without a restart.
  ASSERT_TRUE(
      WaitUntil([&] { return daemon.Status()["hubs"].size() == 1; }, std::chrono::seconds(5)))
      << daemon.Log();
  ASSERT_EQ(RunCli({"say", "hello daemon"}, env).exit_code, 0);
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto status = daemon.Status();
        return status["hubs"].size() == 1 && status["hubs"][0]["new_events_noticed"] == 1;
      },
      std::chrono::seconds(5)))
      << daemon.Status().dump() << daemon.Log();
  ASSERT_EQ(RunCli({"hub", "forget"}, env).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return daemon.Status()["hubs"].empty(); }, std::chrono::seconds(5)))
      << daemon.Log();
}

TEST(Daemon, StartsWithoutAnUnpluggedExtraRoot) {
  TempDir dir;
  auto home = dir / "home";
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.string()},
                                         {"NEARBYTES_SECRET", kSecret}};
  ASSERT_EQ(RunCli({"hub", "create"}, env).exit_code, 0);
  fs::create_directories(dir / "stick");
  ASSERT_EQ(RunCli({"store", "add-root", (dir / "stick").string()}, env).exit_code, 0);
  fs::remove_all(dir / "stick");  // the disk is unplugged
  DaemonProcess daemon(home);
  ASSERT_TRUE(daemon.Started()) << daemon.Log();
  EXPECT_NE(daemon.Log().find("is not available; continuing without it"), std::string::npos)
      << daemon.Log();
  EXPECT_EQ(daemon.Status()["roots"].size(), 1u);
}

}  // namespace
}  // namespace nb::testing
