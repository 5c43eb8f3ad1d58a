// The command line as a user meets it (issue 10): no crash and no
// unbounded read on odd input, no silent overwrite, refusals before
// anything is written, time travel, search, secrets and JSON errors.
// Every test runs the real binary; terminal behaviour runs it on a pty.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <thread>

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

constexpr const char* kSecret = "manners:a long and unusual passphrase 71";

class CliManners : public ::testing::Test {
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
  size_t EventCount() { return RunJson({"log"})["events"].size(); }
  fs::path StorePath() const { return home_ / "home" / "store"; }

  TempDir home_;
  TempDir work_;
  std::map<std::string, std::string> env_;
};

// Runs the binary on a pseudo-terminal: `answers` are typed, each after its
// prompt appears. Returns everything the terminal showed and the exit code.
struct PtyResult {
  std::string screen;
  int exit_code = -1;
};
PtyResult RunOnPty(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env,
                   const std::vector<std::pair<std::string, std::string>>& answers) {
  std::vector<std::string> env_strings = nb::testing::CliEnvironment(env);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    std::string cli = nb::testing::CliPath();
    std::vector<char*> argv{cli.data()};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    ::execve(cli.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  PtyResult out;
  size_t next_answer = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{master, POLLIN, 0};
    int ready = ::poll(&p, 1, 100);
    if (ready > 0) {
      char buf[4096];
      ssize_t n = ::read(master, buf, sizeof(buf));
      if (n <= 0) break;  // EIO: the child closed the terminal
      out.screen.append(buf, static_cast<size_t>(n));
    }
    if (next_answer < answers.size() &&
        out.screen.find(answers[next_answer].first) != std::string::npos) {
      // Wait for the prompt's terminal mode change to settle.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::string line = answers[next_answer].second + "\n";
      EXPECT_EQ(::write(master, line.data(), line.size()), static_cast<ssize_t>(line.size()));
      out.screen.clear();  // find the next prompt in new output only
      ++next_answer;
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// ---- §1: no crash, bounded reads ----

TEST_F(CliManners, LsOfAFileListsThatFile) {
  WriteText(work_ / "docs" / "notes.txt", "some notes\n");
  ASSERT_EQ(Run({"put", (work_ / "docs").string()}).exit_code, 0);
  RunResult r = Run({"ls", "docs/notes.txt"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("docs/notes.txt"), std::string::npos) << r.out;
  Json listed = RunJson({"ls", "docs/notes.txt"});
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["path"], "docs/notes.txt");
  EXPECT_EQ(listed[0]["size"], 11);
}

TEST_F(CliManners, ASecretFileMustBeASmallRegularFile) {
  auto env = env_;
  env.erase("NEARBYTES_SECRET");
  for (const char* device : {"/dev/zero", "/dev/urandom"}) {
    RunResult r = RunCli({"--secret-file", device, "hub", "info"}, env);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  }
  fs::path fifo = work_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  RunResult r = RunCli({"--secret-file", fifo.string(), "hub", "info"}, env);
  EXPECT_EQ(r.exit_code, 1);  // and it returned: a FIFO must not hang the open
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;

  WriteText(work_ / "big", std::string(100 * 1024, 'x'));
  r = RunCli({"--secret-file", (work_ / "big").string(), "hub", "info"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("larger than 64 KiB"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
}

// ---- §2: no silent data loss ----

TEST_F(CliManners, GetNeverOverwritesADifferentFileWithoutForce) {
  WriteText(work_ / "report.txt", "the hub's version\n");
  ASSERT_EQ(Run({"put", (work_ / "report.txt").string()}).exit_code, 0);
  fs::path local = work_ / "out" / "report.txt";
  WriteText(local, "my local edits\n");

  RunResult r = Run({"get", "report.txt", local.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(local.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(local), "my local edits\n");

  // The same content is not an error and not rewritten.
  WriteText(work_ / "same.txt", "the hub's version\n");
  r = Run({"get", "report.txt", (work_ / "same.txt").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("up to date"), std::string::npos) << r.out;

  // A longer local file that starts with the content differs too.
  WriteText(work_ / "longer.txt", "the hub's version\nand more\n");
  EXPECT_EQ(Run({"get", "report.txt", (work_ / "longer.txt").string()}).exit_code, 1);

  EXPECT_EQ(Run({"get", "--force", "report.txt", local.string()}).exit_code, 0);
  EXPECT_EQ(ReadText(local), "the hub's version\n");
  // No temp file is left beside it.
  for (const auto& e : fs::directory_iterator(local.parent_path())) {
    EXPECT_EQ(e.path().filename(), "report.txt");
  }
}

TEST_F(CliManners, GetDoesNotFollowASymlinkPlantedAtTheTarget) {
  WriteText(work_ / "a.txt", "hub content\n");
  ASSERT_EQ(Run({"put", (work_ / "a.txt").string()}).exit_code, 0);
  fs::path victim = work_ / "victim.txt";
  WriteText(victim, "do not touch\n");
  fs::path target = work_ / "out" / "a.txt";
  fs::create_directories(target.parent_path());
  fs::create_symlink(victim, target);
  EXPECT_EQ(Run({"get", "a.txt", target.string()}).exit_code, 1);
  EXPECT_EQ(Run({"get", "--force", "a.txt", target.string()}).exit_code, 1);
  EXPECT_EQ(ReadText(victim), "do not touch\n");
}

TEST_F(CliManners, ExportWritesTheRestAndListsWhatItSkipped) {
  WriteText(work_ / "tree" / "keep.txt", "hub keep\n");
  WriteText(work_ / "tree" / "edited.txt", "hub edited\n");
  WriteText(work_ / "tree" / "blocked" / "inner.txt", "inner\n");
  WriteText(work_ / "tree" / "dirnow.txt", "was a file\n");
  WriteText(work_ / "tree" / "fresh.txt", "fresh\n");
  ASSERT_EQ(Run({"put", (work_ / "tree").string(), "--to", "/"}).exit_code, 0);

  fs::path out = work_ / "export";
  WriteText(out / "tree" / "keep.txt", "hub keep\n");          // identical: left alone
  WriteText(out / "tree" / "edited.txt", "local edit\n");      // differs: skipped
  WriteText(out / "tree" / "blocked", "a file in the way\n");  // cannot make the directory
  fs::create_directories(out / "tree" / "dirnow.txt");         // a directory in the way

  RunResult r = Run({"export", "/", out.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("edited.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("blocked"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("dirnow.txt"), std::string::npos) << r.err;
  EXPECT_EQ(ReadText(out / "tree" / "fresh.txt"), "fresh\n");  // the rest was written
  EXPECT_EQ(ReadText(out / "tree" / "edited.txt"), "local edit\n");
  EXPECT_EQ(ReadText(out / "tree" / "blocked"), "a file in the way\n");

  r = Run({"export", "--force", "/", out.string()});
  EXPECT_EQ(ReadText(out / "tree" / "edited.txt"), "hub edited\n");
  EXPECT_EQ(r.exit_code, 1);  // the two blocked paths still cannot be written
}

TEST_F(CliManners, PutRefusesCollidingSourcesBeforeWritingAnything) {
  WriteText(work_ / "one" / "same.txt", "first\n");
  WriteText(work_ / "two" / "same.txt", "second\n");
  size_t before = EventCount();
  RunResult r = Run({"put", (work_ / "one" / "same.txt").string(),
                     (work_ / "two" / "same.txt").string(), "--to", "box/"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("would both be stored as box/same.txt"), std::string::npos) << r.err;
  EXPECT_EQ(EventCount(), before);
  // No block was stored either.
  size_t blocks = 0;
  for (const auto& e : fs::directory_iterator(StorePath() / "blocks"))
    blocks += e.is_regular_file();
  EXPECT_EQ(blocks, 0u);
}

TEST_F(CliManners, WritingBelowALiveFileIsRefused) {
  WriteText(work_ / "file.txt", "a file\n");
  ASSERT_EQ(Run({"put", (work_ / "file.txt").string()}).exit_code, 0);
  size_t before = EventCount();
  RunResult r = Run({"put", (work_ / "file.txt").string(), "--to", "file.txt/inner"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a file exists at file.txt"), std::string::npos) << r.err;
  r = Run({"mkdir", "-p", "file.txt/sub"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("a file exists at file.txt"), std::string::npos) << r.err;
  r = Run({"mv", "file.txt", "file.txt/x"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(EventCount(), before);
  EXPECT_EQ(Run({"cat", "file.txt"}).out, "a file\n");
}

TEST_F(CliManners, GetVersionOnlyTakesAVersionOfThatPath) {
  WriteText(work_ / "a.txt", "a1\n");
  WriteText(work_ / "b.txt", "b1\n");
  ASSERT_EQ(Run({"put", (work_ / "a.txt").string()}).exit_code, 0);
  ASSERT_EQ(Run({"put", (work_ / "b.txt").string()}).exit_code, 0);
  std::string a_version = RunJson({"history", "a.txt"})["versions"][0]["event"];
  RunResult r = Run({"get", "--version", a_version, "b.txt", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not of b.txt"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  // A unique prefix works where the full id does.
  r = Run({"get", "--version", a_version.substr(0, 10), "a.txt", "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "a1\n");
  // Too short, or unknown: a clear line.
  r = Run({"get", "--version", "ab", "a.txt", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("too short"), std::string::npos) << r.err;
  r = Run({"get", "--version", "ffffffffff", "a.txt", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no event"), std::string::npos) << r.err;
}

// ---- §3: right figures ----

TEST_F(CliManners, LsMarksAFileWhoseContentIsMissing) {
  WriteText(work_ / "d" / "kept.txt", "kept\n");
  WriteText(work_ / "d" / "lost.txt", "lost\n");
  ASSERT_EQ(Run({"put", (work_ / "d").string()}).exit_code, 0);
  Json listed = RunJson({"ls", "-r"});
  std::string lost_block;
  for (const auto& e : listed) {
    if (e["path"] == "d/lost.txt") lost_block = e["content"];
    if (e["type"] == "file") {
      EXPECT_TRUE(e["complete"].get<bool>());
    }
  }
  ASSERT_FALSE(lost_block.empty());
  fs::remove(StorePath() / "blocks" / (lost_block + ".bin"));
  listed = RunJson({"ls", "-r"});
  for (const auto& e : listed) {
    if (e["path"] == "d/lost.txt") {
      EXPECT_FALSE(e["complete"].get<bool>()) << e.dump();
    }
    if (e["path"] == "d/kept.txt") {
      EXPECT_TRUE(e["complete"].get<bool>()) << e.dump();
    }
  }
  RunResult r = Run({"ls", "d"});
  EXPECT_NE(r.out.find("lost.txt   [content missing here]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("kept.txt   [content missing here]"), std::string::npos) << r.out;
}

// ---- §5: commands users expect ----

TEST_F(CliManners, CatFindAndDu) {
  WriteText(work_ / "p" / "Holiday" / "beach.JPG", std::string(3000, 'b'));
  WriteText(work_ / "p" / "Holiday" / "notes.txt", "sun\n");
  WriteText(work_ / "p" / "work" / "invoice-2026.pdf", std::string(500, 'i'));
  ASSERT_EQ(Run({"put", (work_ / "p").string(), "--to", "/"}).exit_code, 0);

  EXPECT_EQ(Run({"cat", "p/Holiday/notes.txt"}).out, "sun\n");
  RunResult r = Run({"cat", "p/nothing"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no such file: p/nothing"), std::string::npos);

  r = Run({"find", "*.jpg"});  // glob, case ignored
  EXPECT_EQ(r.out, "p/Holiday/beach.JPG\n");
  r = Run({"find", "holiday"});  // substring
  EXPECT_EQ(r.out, "p/Holiday/\np/Holiday/beach.JPG\np/Holiday/notes.txt\n");
  Json found = RunJson({"find", "invoice"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["path"], "p/work/invoice-2026.pdf");
  EXPECT_EQ(Run({"find", "nomatch"}).exit_code, 1);

  Json du = RunJson({"du", "p"});
  EXPECT_EQ(du["bytes"], 3000 + 4 + 500);
  EXPECT_EQ(du["files"], 3);
  ASSERT_EQ(du["children"].size(), 2u);
  EXPECT_EQ(du["children"][0]["path"], "p/Holiday");
  EXPECT_EQ(du["children"][0]["bytes"], 3004);
  EXPECT_EQ(du["children"][1]["bytes"], 500);
}

TEST_F(CliManners, RestoreBringsBackADeletedFolderAndTimeTravelShowsThePast) {
  WriteText(work_ / "album" / "one.txt", "one\n");
  WriteText(work_ / "album" / "deep" / "two.txt", "two\n");
  ASSERT_EQ(Run({"put", (work_ / "album").string()}).exit_code, 0);
  std::string after_put = RunJson({"history", "album/one.txt"})["versions"][0]["event"];
  // The clock moves on, then the folder changes and goes.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  WriteText(work_ / "one-v2.txt", "one, second version\n");
  ASSERT_EQ(Run({"put", (work_ / "one-v2.txt").string(), "--to", "album/one.txt"}).exit_code, 0);
  ASSERT_EQ(Run({"rm", "-r", "album"}).exit_code, 0);
  EXPECT_EQ(RunJson({"ls", "-r"}).size(), 0u);

  // The whole hub as it was after the first put.
  Json past = RunJson({"ls", "-r", "--at", after_put.substr(0, 12)});
  std::set<std::string> paths;
  for (const auto& e : past) paths.insert(e["path"]);
  EXPECT_TRUE(paths.count("album/one.txt") || paths.count("album/deep/two.txt")) << past.dump();

  RunResult r = Run({"restore", "album"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"cat", "album/one.txt"}).out, "one, second version\n");
  EXPECT_EQ(Run({"cat", "album/deep/two.txt"}).out, "two\n");

  // By time: before the hub had anything, there is nothing to bring back.
  r = Run({"restore", "album/one.txt", "--at", "2000-01-01"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("did not exist at 2000-01-01"), std::string::npos) << r.err;
  EXPECT_EQ(RunJson({"ls", "-r", "--at", "2000-01-01 12:00"}).size(), 0u);
  r = Run({"restore", "album/one.txt", "--at", after_put});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"cat", "album/one.txt"}).out, "one\n");

  // export --at writes the past tree.
  fs::path out = work_ / "then";
  EXPECT_EQ(Run({"export", "/", out.string(), "--at", after_put}).exit_code, 0);
  EXPECT_TRUE(fs::exists(out / "album"));

  // Without --at, a live path is left alone (restore undoes removals).
  r = Run({"restore", "album"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("album exists now"), std::string::npos) << r.err;
  r = Run({"restore", "never-there"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("never-there"), std::string::npos);
  r = Run({"ls", "--at", "yesterday-ish"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("give an event id, a date"), std::string::npos) << r.err;
}

TEST_F(CliManners, JsonErrorsAreJsonAndUnknownCommandsAreNamed) {
  RunResult r = Run({"--json", "cat", "missing.txt"});
  EXPECT_EQ(r.exit_code, 1);
  Json error = Json::parse(r.out);
  EXPECT_EQ(error["error"]["code"], "not_found");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("missing.txt"), std::string::npos);

  r = Run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "nearbytes: unknown command 'frobnicate' (see nearbytes --help)\n");
  r = Run({"--json", "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Json::parse(r.out)["error"]["code"], "invalid_argument");
}

TEST_F(CliManners, EveryCommandsHelpHasItsOwnExamples) {
  // Subcommands inherit the general examples; each must show lines of its own.
  const std::vector<std::vector<std::string>> commands = {{"hub", "create"},
                                                          {"hub", "info"},
                                                          {"hub", "list"},
                                                          {"hub", "forget"},
                                                          {"hub", "set"},
                                                          {"log"},
                                                          {"verify"},
                                                          {"gc"},
                                                          {"say"},
                                                          {"chat"},
                                                          {"profile", "init"},
                                                          {"profile", "set"},
                                                          {"profile", "show"},
                                                          {"members"},
                                                          {"sync"},
                                                          {"store", "add-root"},
                                                          {"store", "remove-root"},
                                                          {"store", "roots"},
                                                          {"put"},
                                                          {"get"},
                                                          {"ls"},
                                                          {"find"},
                                                          {"du"},
                                                          {"cat"},
                                                          {"restore"},
                                                          {"export"},
                                                          {"rm"},
                                                          {"mv"},
                                                          {"mkdir"},
                                                          {"history"},
                                                          {"conflicts"}};
  for (const auto& command : commands) {
    std::vector<std::string> args = command;
    args.push_back("--help");
    RunResult r = Run(args);
    std::string name;
    for (const auto& word : command) name += (name.empty() ? "" : " ") + word;
    EXPECT_EQ(r.exit_code, 0) << name;
    size_t examples = r.out.find("Examples:");
    ASSERT_NE(examples, std::string::npos) << name << ": " << r.out;
    std::string tail = r.out.substr(examples);
    bool own = false;
    for (size_t at = tail.find("nearbytes "); at != std::string::npos && !own;
         at = tail.find("nearbytes ", at + 1)) {
      size_t line_end = tail.find('\n', at);
      std::string line = tail.substr(at, line_end - at);
      own = line.find(" " + name) != std::string::npos;
    }
    EXPECT_TRUE(own) << name << " has no example of its own:\n" << tail;
  }
}

TEST(CliSecrets, HubOptionPicksARememberedHubAndAmbiguityListsThem) {
  TempDir home;
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.path().string()}};
  auto with = [&](const std::string& secret) {
    auto e = env;
    e["NEARBYTES_SECRET"] = secret;
    return e;
  };
  ASSERT_EQ(RunCli({"hub", "create"}, with("alpha:first long secret words")).exit_code, 0);
  ASSERT_EQ(RunCli({"hub", "create"}, with("beta:second long secret words")).exit_code, 0);
  RunResult r = RunCli({"hub", "info"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("alpha"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("beta"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--hub"), std::string::npos) << r.err;

  r = RunCli({"--json", "--hub", "beta", "hub", "info"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string beta_id = Json::parse(r.out)["id"];
  EXPECT_EQ(Json::parse(r.out)["name"], "beta");
  r = RunCli({"--json", "--hub", beta_id.substr(0, 10), "hub", "info"}, env);
  EXPECT_EQ(Json::parse(r.out)["id"], beta_id);
  // An explicit --hub wins over a secret exported in the environment.
  r = RunCli({"--json", "--hub", "beta", "hub", "info"}, with("alpha:first long secret words"));
  EXPECT_EQ(Json::parse(r.out)["id"], beta_id);
  r = RunCli({"--hub", "gamma", "hub", "info"}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("matches no remembered hub"), std::string::npos) << r.err;
}

TEST(CliSecrets, GenerateMakesAStrongRememberedSecretAndWeakOnesAreWarned) {
  TempDir home;
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.path().string()}};
  RunResult r = RunCli({"--json", "hub", "create", "--generate", "--name", "team"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json created = Json::parse(r.out);
  std::string secret = created["secret"];
  EXPECT_EQ(secret.rfind("team:", 0), 0u);
  EXPECT_GE(secret.size(), 5u + 29u);
  EXPECT_FALSE(created["weakSecret"].get<bool>());
  EXPECT_TRUE(r.err.empty()) << r.err;
  // Remembered: the next command opens it with no secret given.
  r = RunCli({"--json", "hub", "info"}, env);
  EXPECT_EQ(Json::parse(r.out)["id"], created["id"]);
  // Two generated secrets differ.
  TempDir other;
  r = RunCli({"--json", "hub", "create", "--generate"},
             {{"NEARBYTES_HOME", other.path().string()}});
  EXPECT_NE(Json::parse(r.out)["secret"], secret);

  for (const char* weak : {"password", "team:", "team:abc123", "team:aaaaaaaaaaaa"}) {
    TempDir h;
    r = RunCli({"hub", "create"},
               {{"NEARBYTES_HOME", h.path().string()}, {"NEARBYTES_SECRET", weak}});
    EXPECT_EQ(r.exit_code, 0) << weak << ": " << r.err;
    EXPECT_NE(r.err.find("weak secret"), std::string::npos) << weak << ": " << r.err;
    EXPECT_NE(r.err.find("offline"), std::string::npos) << r.err;
  }
  TempDir h;
  r = RunCli({"hub", "create"}, {{"NEARBYTES_HOME", h.path().string()},
                                 {"NEARBYTES_SECRET", "team:Sleepy-Otter-Builds-7-Kites_in-Lyon"}});
  EXPECT_EQ(r.err.find("weak secret"), std::string::npos) << r.err;
}

TEST(CliSecrets, ATypedSecretForANewHubIsAskedTwice) {
  TempDir home;
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.path().string()}};
  PtyResult r = RunOnPty({"hub", "create"}, env,
                         {{"New hub secret:", "pair:first typing of it 42"},
                          {"Type it again:", "pair:second typing of it 42"}});
  EXPECT_EQ(r.exit_code, 1) << r.screen;
  EXPECT_NE(r.screen.find("the two secrets differ"), std::string::npos) << r.screen;
  EXPECT_FALSE(fs::exists(home.path() / "secrets"));

  r = RunOnPty({"hub", "create"}, env,
               {{"New hub secret:", "pair:same typing of it 42"},
                {"Type it again:", "pair:same typing of it 42"}});
  EXPECT_EQ(r.exit_code, 0) << r.screen;
  EXPECT_NE(r.screen.find("Hub \"pair\" is ready"), std::string::npos) << r.screen;
  EXPECT_EQ(r.screen.find("same typing"), std::string::npos) << "echoed: " << r.screen;
}

TEST_F(CliManners, FileNamesWithEscapesAreShownEscapedOnATerminal) {
  std::string evil = "bad\x1b[31mred\x07.txt";
  WriteText(work_ / "plain.txt", "x\n");
  ASSERT_EQ(Run({"put", (work_ / "plain.txt").string(), "--to", evil}).exit_code, 0);
  PtyResult r = RunOnPty({"ls"}, env_, {});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.screen.find('\x1b'), std::string::npos) << r.screen;
  EXPECT_NE(r.screen.find("bad\xef\xbf\xbd[31mred\xef\xbf\xbd.txt"), std::string::npos) << r.screen;
  // Through a pipe the name is passed on as it is, for scripts.
  EXPECT_NE(Run({"ls"}).out.find(evil), std::string::npos);
}

}  // namespace
}  // namespace nb

namespace nb {
namespace {

TEST(CliSecrets, ADamagedSecretsFileIsNamedNotIgnored) {
  TempDir home;
  ASSERT_EQ(RunCli({"hub", "create", "--no-remember"},
                   {{"NEARBYTES_HOME", home.path().string()}, {"NEARBYTES_SECRET", kSecret}})
                .exit_code,
            0);
  WriteText(home.path() / "secrets", "[1,2");
  ::chmod((home.path() / "secrets").c_str(), 0600);
  RunResult r = RunCli({"hub", "info"}, {{"NEARBYTES_HOME", home.path().string()}});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("remembered secrets not used"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find((home.path() / "secrets").string()), std::string::npos) << r.err;
}

TEST(CliEdges, EmptyArgumentsGetAClearLine) {
  TempDir home;
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.path().string()},
                                         {"NEARBYTES_SECRET", kSecret}};
  ASSERT_EQ(RunCli({"hub", "create"}, env).exit_code, 0);
  RunResult r = RunCli({"export", "", ""}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "nearbytes: export needs a local directory to write to\n");
  r = RunCli({"history", ""}, env);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "nearbytes: history needs a hub path\n");
}

}  // namespace
}  // namespace nb

namespace nb {
namespace {

TEST_F(CliManners, ANameThatIsNotUtf8IsRefusedBeforeAnythingIsStored) {
  std::string name = "n\xffme.txt";
  WriteText(work_ / "bad" / name, "content\n");
  size_t before = EventCount();
  RunResult r = Run({"put", (work_ / "bad").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not valid UTF-8"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("n\\xffme.txt"), std::string::npos) << "names the file: " << r.err;
  EXPECT_EQ(EventCount(), before);
  size_t blocks = 0;
  for (const auto& e : fs::directory_iterator(StorePath() / "blocks"))
    blocks += e.is_regular_file();
  EXPECT_EQ(blocks, 0u);
}

}  // namespace
}  // namespace nb

namespace nb {
namespace {

TEST_F(CliManners, AMessageFromStandardInputIsBounded) {
  // Before, `yes | nearbytes say -` read until memory ran out.
  RunResult r = Run({"say", "-"}, std::string(200 * 1024, 'y'));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("longer than 64 KiB"), std::string::npos) << r.err;
  r = Run({"say", "-"}, "a line from a script\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace nb
