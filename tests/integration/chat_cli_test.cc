// say, chat, profile and members through the real binary: two people in one
// hub, a follower in another process, the reference corpus, and bad input.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "testing/test_support.h"

namespace nb {
namespace {

using Json = nlohmann::json;
using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;

constexpr const char* kSecret = "chat-test:a shared passphrase";

// A running `nearbytes` whose output is read while it runs.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) std::abort();
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_ = nb::testing::StartCli(args, nb::testing::CliEnvironment(env), null_fd, out_pipe[1],
                                 err_pipe[1]);
    ::close(null_fd);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
  }

  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_fd_);
    ::close(err_fd_);
  }

  // Reads until `needle` shows up in stdout (or stderr), or the time is up.
  bool WaitFor(const std::string& needle, bool on_stderr, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    const std::string& text = on_stderr ? err_ : out_;
    while (text.find(needle) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      if (::poll(fds, 2, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      for (int i = 0; i < 2; ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n > 0) (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
        if (n == 0) return text.find(needle) != std::string::npos;  // it exited
      }
    }
    return true;
  }

  // Sends `sig` and returns the exit status (-1 if it did not exit in time).
  int Stop(int sig) {
    ::kill(pid_, sig);
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::usleep(20 * 1000);
    }
    return -1;
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_, err_;
};

// Two people (separate homes) sharing one store and one hub secret.
class ChatCli : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = (dir_ / "store").string();
    std::filesystem::create_directories(dir_ / "ada");
    std::filesystem::create_directories(dir_ / "bob");
    ASSERT_EQ(Run("ada", {"hub", "create"}).exit_code, 0);
  }

  std::map<std::string, std::string> Env(const std::string& who) {
    return {{"NEARBYTES_HOME", (dir_ / who).string()}, {"NEARBYTES_SECRET", kSecret}};
  }
  RunResult Run(const std::string& who, std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", store_});
    return RunCli(args, Env(who));
  }
  Json RunJson(const std::string& who, std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    RunResult result = Run(who, args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return Json::parse(result.out);
  }

  TempDir dir_;
  std::string store_;
};

TEST_F(ChatCli, ProfileSayChatAndMembers) {
  Json init = RunJson("ada", {"profile", "init"});
  std::string ada_id = init["id"].get<std::string>();
  ASSERT_EQ(ada_id.size(), 130u);
  ASSERT_EQ(Run("ada", {"profile", "set", "--name", "Ada", "--bio", "counts things"}).exit_code, 0);
  RunResult said = Run("ada", {"say", "hello", "from", "Ada"});
  ASSERT_EQ(said.exit_code, 0) << said.err;
  ASSERT_EQ(Run("bob", {"say", "  bob has no identity  "}).exit_code, 0);

  Json chat = RunJson("bob", {"chat"});
  ASSERT_EQ(chat["messages"].size(), 2u);
  const Json& first = chat["messages"][0];
  EXPECT_EQ(first["body"], "hello from Ada");
  EXPECT_EQ(first["authorName"], "Ada");
  EXPECT_EQ(first["author"]["status"], "signed");
  EXPECT_EQ(first["author"]["id"], ada_id);
  EXPECT_EQ(first["verified"], true);
  const Json& second = chat["messages"][1];
  EXPECT_EQ(second["body"], "bob has no identity");
  EXPECT_EQ(second["authorName"], "hub member");
  EXPECT_EQ(second["author"]["status"], "hub-member");

  // Human output names the author too; --limit keeps the last ones.
  RunResult text = Run("bob", {"chat", "--limit", "1"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.out.find("Ada: hello"), std::string::npos);
  EXPECT_NE(text.out.find("hub member: bob has no identity"), std::string::npos) << text.out;
  EXPECT_NE(Run("bob", {"chat"}).out.find("Ada: hello from Ada"), std::string::npos);

  Json members = RunJson("bob", {"members"});
  ASSERT_EQ(members["members"].size(), 1u);
  EXPECT_EQ(members["members"][0]["id"], ada_id);
  EXPECT_EQ(members["members"][0]["displayName"], "Ada");
  EXPECT_EQ(members["members"][0]["bio"], "counts things");
  EXPECT_EQ(members["members"][0]["messages"], 1);
  EXPECT_EQ(members["hubMemberMessages"], 1);

  Json mine = RunJson("ada", {"profile", "show"});
  EXPECT_EQ(mine["id"], ada_id);
  EXPECT_EQ(mine["displayName"], "Ada");
  EXPECT_EQ(mine["own"], true);
  Json by_name = RunJson("bob", {"profile", "show", "Ada"});
  EXPECT_EQ(by_name["id"], ada_id);
  EXPECT_EQ(by_name["own"], false);

  // A new name keeps the bio unless told otherwise; the latest record wins.
  ASSERT_EQ(Run("ada", {"profile", "set", "--name", "Ada L."}).exit_code, 0);
  Json renamed = RunJson("bob", {"members"});
  EXPECT_EQ(renamed["members"][0]["displayName"], "Ada L.");
  EXPECT_EQ(renamed["members"][0]["bio"], "counts things");
  EXPECT_EQ(RunJson("bob", {"chat"})["messages"][0]["authorName"], "Ada L.");
}

TEST_F(ChatCli, FollowPrintsMessagesFromAnotherProcess) {
  ASSERT_EQ(Run("ada", {"profile", "init"}).exit_code, 0);
  ASSERT_EQ(Run("ada", {"profile", "set", "--name", "Ada"}).exit_code, 0);
  ASSERT_EQ(Run("ada", {"say", "before following"}).exit_code, 0);

  // Bob follows; the safety timeout only matters if the test fails.
  Child follower({"--store", store_, "--json", "chat", "--follow", "--follow-timeout", "60"},
                 Env("bob"));
  ASSERT_TRUE(follower.WaitFor("following the chat", /*on_stderr=*/true, 10000)) << follower.err();
  EXPECT_NE(follower.out().find("before following"), std::string::npos);

  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Run("ada", {"say", "live from Ada"}).exit_code, 0);
  ASSERT_TRUE(follower.WaitFor("live from Ada", /*on_stderr=*/false, 3000)) << follower.out();
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(3));

  // Each message is one JSON line, with its author's name.
  std::string last_line;
  size_t at = follower.out().find("live from Ada");
  size_t begin = follower.out().rfind('\n', at);
  last_line = follower.out().substr(begin + 1, follower.out().find('\n', at) - begin - 1);
  Json line = Json::parse(last_line);
  EXPECT_EQ(line["authorName"], "Ada");
  EXPECT_EQ(line["verified"], true);

  // An event file that arrives the way a plain copy (or a sync client)
  // writes it: the name appears first, the bytes later.
  std::string other_store = (dir_ / "elsewhere").string();
  ASSERT_EQ(RunCli({"--store", other_store, "hub", "create"}, Env("bob")).exit_code, 0);
  ASSERT_EQ(RunCli({"--store", other_store, "say", "copied in"}, Env("bob")).exit_code, 0);
  std::filesystem::path event_file;
  for (const auto& channel : std::filesystem::directory_iterator(dir_ / "elsewhere" / "channels")) {
    for (const auto& entry : std::filesystem::directory_iterator(channel.path())) {
      event_file = entry.path();
    }
  }
  ASSERT_FALSE(event_file.empty());
  std::string bytes = nb::testing::ReadText(event_file);
  auto target =
      dir_ / "store" / "channels" / event_file.parent_path().filename() / event_file.filename();
  {
    int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), 10), 10);
    ::usleep(200 * 1000);
    ssize_t rest = static_cast<ssize_t>(bytes.size() - 10);
    ASSERT_EQ(::write(fd, bytes.data() + 10, static_cast<size_t>(rest)), rest);
    ::close(fd);
  }
  ASSERT_TRUE(follower.WaitFor("copied in", false, 3000)) << follower.out();
  // The half-written file was not taken for corrupt.
  EXPECT_TRUE(std::filesystem::exists(target));

  EXPECT_EQ(follower.Stop(SIGTERM), 0) << follower.err();
}

TEST_F(ChatCli, FollowStopsOnSigint) {
  Child follower({"--store", store_, "chat", "--follow"}, Env("bob"));
  ASSERT_TRUE(follower.WaitFor("following the chat", true, 10000)) << follower.err();
  EXPECT_EQ(follower.Stop(SIGINT), 0);
}

TEST_F(ChatCli, BadInputIsOneClearLine) {
  auto one_line = [](const RunResult& r) {
    return !r.err.empty() && r.err.find('\n') == r.err.size() - 1;
  };
  RunResult empty = Run("ada", {"say", ""});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_TRUE(one_line(empty)) << empty.err;
  EXPECT_NE(empty.err.find("empty"), std::string::npos);
  RunResult blank = Run("ada", {"say", "  \t "});
  EXPECT_EQ(blank.exit_code, 1);

  // A store without this hub.
  RunResult no_hub =
      RunCli({"--store", store_, "chat"},
             {{"NEARBYTES_HOME", (dir_ / "ada").string()}, {"NEARBYTES_SECRET", "another:hub"}});
  EXPECT_EQ(no_hub.exit_code, 1);
  EXPECT_TRUE(one_line(no_hub)) << no_hub.err;
  EXPECT_NE(no_hub.err.find("no hub"), std::string::npos) << no_hub.err;

  // No secret at all (and no terminal to ask on): a home whose keyring is
  // empty, since `hub create` remembers the secret of the hub it made.
  RunResult no_secret =
      RunCli({"--store", store_, "chat"}, {{"NEARBYTES_HOME", (dir_ / "nobody").string()}});
  EXPECT_EQ(no_secret.exit_code, 1);
  EXPECT_TRUE(one_line(no_secret)) << no_secret.err;
  EXPECT_NE(no_secret.err.find("secret"), std::string::npos);

  // profile set without an identity; show of an unknown member.
  RunResult no_identity = Run("bob", {"profile", "set", "--name", "Bob"});
  EXPECT_EQ(no_identity.exit_code, 1);
  EXPECT_NE(no_identity.err.find("profile init"), std::string::npos) << no_identity.err;
  RunResult unknown = Run("bob", {"profile", "show", "Nobody"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(one_line(unknown));
}

TEST_F(ChatCli, IdentityInitRefusesToOverwriteAndImports) {
  Json first = RunJson("ada", {"profile", "init"});
  RunResult again = Run("ada", {"profile", "init"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--force"), std::string::npos);
  Json forced = RunJson("ada", {"profile", "init", "--force"});
  EXPECT_NE(forced["id"], first["id"]);

  // The same identity on a second machine, from its secret.
  std::string secret = nb::testing::ReadText(dir_ / "ada" / "identity");
  nb::testing::WriteText(dir_ / "ada-identity-backup", secret);
  Json imported =
      RunJson("bob", {"profile", "init", "--from-file", (dir_ / "ada-identity-backup").string()});
  EXPECT_EQ(imported["id"], forced["id"]);
  EXPECT_EQ(std::filesystem::status(dir_ / "bob" / "identity").permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(ChatCliCorpus, ReferenceHubTimelineEqualsExpected) {
  TempDir dir;
  nb::testing::CopyTree(nb::testing::InteropDir() / "hub-public", dir.path());
  RunResult result = RunCli({"--store", dir.path().string(), "--json", "chat"},
                            {{"NEARBYTES_SECRET", "interop-public:correct horse"}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Json got = Json::array();
  Json doc = Json::parse(result.out);
  for (const auto& m : doc["messages"]) {
    got.push_back(Json{{"ts", m["ts"]},
                       {"publishedAt", m["publishedAt"]},
                       {"body", m["body"]},
                       {"eventHash", m["eventHash"]},
                       {"verified", m["verified"]}});
    EXPECT_EQ(m["authorName"], "hub member");
  }
  auto expected = nb::testing::LoadJson(nb::testing::InteropDir() / "hub-public.expected.json");
  EXPECT_EQ(got, expected["chat"]);
}

}  // namespace
}  // namespace nb
