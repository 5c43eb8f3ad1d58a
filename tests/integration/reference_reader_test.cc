// Does the reference Nearbytes software read the hubs we write?
//
// Writes a hub with our CLI (text, empty, unicode-named and 20 MB files, a
// rename, a delete, chat, an author-signed message, a conflict made by two
// homes offline and carried through a folder) and opens it with the
// reference's own packages (shared/reference-reader/read-hub.mjs, run with
// node). A reference-compatible hub must pass every check; a default hub
// must fail exactly on its chunked files, which the reference returns as the
// manifest's JSON.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <random>
#include <set>

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

constexpr const char* kSecret = "reference-interop:correct horse battery staple";

bool NodeIsInstalled() { return std::system("command -v node >/dev/null 2>&1") == 0; }

// Runs a shell command; returns its exit code and output (stdout+stderr).
RunResult Shell(const std::string& command) {
  RunResult result;
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string Sha256Hex(const std::string& bytes) { return crypto::Sha256(AsBytes(bytes)).Hex(); }

class Home {
 public:
  explicit Home(const fs::path& dir) : dir_(dir) {
    env_["NEARBYTES_HOME"] = dir.string();
    env_["NEARBYTES_SECRET"] = kSecret;
  }
  RunResult Run(const std::vector<std::string>& args) const { return RunCli(args, env_); }
  Json RunJson(const std::vector<std::string>& args) const {
    std::vector<std::string> full{"--json"};
    full.insert(full.end(), args.begin(), args.end());
    RunResult r = Run(full);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }
  // Puts `bytes` at hub path `path`; returns the event it wrote.
  std::string Put(const std::string& path, const std::string& bytes) const {
    static int counter = 0;
    fs::path local = dir_.parent_path() / "sources" / std::to_string(++counter);
    fs::create_directories(local.parent_path());
    WriteText(local, bytes);
    Json out = RunJson({"put", local.string(), "--to", path});
    return out["files"][0].value("event", "");
  }
  fs::path store() const { return dir_ / "store"; }

 private:
  fs::path dir_;
  std::map<std::string, std::string> env_;
};

struct WrittenHub {
  fs::path store;
  fs::path expect_file;
  fs::path cpp_dir;
  std::set<std::string> chunked_paths;  // from our ls, cross-checked by size
};

// The scenario of the issue, written by our CLI into `dir`.
WrittenHub WriteScenario(const fs::path& dir, bool reference_compatible) {
  Home a(dir / "a"), b(dir / "b");
  fs::path folder = dir / "carried-folder";
  fs::create_directories(folder);
  std::vector<std::string> create{"hub", "create"};
  if (reference_compatible) create.push_back("--reference-compatible");
  RunResult created = a.Run(create);
  EXPECT_EQ(created.exit_code, 0) << created.err;

  Json files = Json::object();
  auto expect = [&](const std::string& path, const std::string& bytes) {
    files[path] = Json{{"sha256", Sha256Hex(bytes)}, {"size", bytes.size()}};
  };
  std::string text = "plain text, written by our CLI\n";
  std::string big(20'000'000, '\0');
  std::mt19937_64 random(10);
  for (size_t i = 0; i + 8 <= big.size(); i += 8) {
    uint64_t v = random();
    std::memcpy(big.data() + i, &v, 8);
  }
  std::string unicode_name = "notes/naïve café 文件 🙂.txt";
  std::string unicode_text = "ünïcödé body ✓\n";
  a.Put("docs/text.txt", text);
  a.Put("docs/empty.txt", "");
  a.Put(unicode_name, unicode_text);
  a.Put("media/big.bin", big);
  a.Put("drafts/old-name.txt", "renamed later\n");
  EXPECT_EQ(a.Run({"mv", "drafts/old-name.txt", "drafts/new-name.txt"}).exit_code, 0);
  a.Put("trash/gone.txt", "deleted later\n");
  EXPECT_EQ(a.Run({"rm", "trash/gone.txt"}).exit_code, 0);
  expect("docs/text.txt", text);
  expect("docs/empty.txt", "");
  expect(unicode_name, unicode_text);
  expect("media/big.bin", big);
  expect("drafts/new-name.txt", "renamed later\n");

  EXPECT_EQ(a.Run({"say", "a message from a hub member"}).exit_code, 0);
  RunResult init = a.Run({"profile", "init"});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(a.Run({"profile", "set", "--name", "Ada"}).exit_code, 0);
  EXPECT_EQ(a.Run({"say", "a message signed by its author"}).exit_code, 0);

  // A conflict: both homes change one file offline, then meet in a folder.
  a.Put("shared/plan.txt", "base plan\n");
  EXPECT_EQ(a.Run({"sync", "--create", folder.string()}).exit_code, 0);
  EXPECT_EQ(b.Run({"sync", folder.string()}).exit_code, 0);
  std::string from_a = "plan as a sees it\n", from_b = "plan as b sees it\n";
  std::string event_a = a.Put("shared/plan.txt", from_a);
  std::string event_b = b.Put("shared/plan.txt", from_b);
  // b follows the hub's layout setting it received: a 5 MB file from b is
  // one block in a compatible hub, chunks otherwise.
  std::string from_b_big(5'000'000, 'b');
  for (size_t i = 0; i < from_b_big.size(); i += 4099) from_b_big[i] = static_cast<char>(i);
  b.Put("media/from-b.bin", from_b_big);
  expect("media/from-b.bin", from_b_big);
  EXPECT_EQ(b.Run({"sync", folder.string()}).exit_code, 0);
  EXPECT_EQ(a.Run({"sync", folder.string()}).exit_code, 0);

  Json conflicts = a.RunJson({"conflicts"});
  EXPECT_EQ(conflicts.size(), 1u) << conflicts.dump();
  bool a_lives = !conflicts.empty() && conflicts[0]["live"] == event_a;
  expect("shared/plan.txt", a_lives ? from_a : from_b);
  Json history = Json::object();
  history[event_a] = Json{{"sha256", Sha256Hex(from_a)}, {"size", from_a.size()}};
  history[event_b] = Json{{"sha256", Sha256Hex(from_b)}, {"size", from_b.size()}};

  WrittenHub hub;
  hub.store = a.store();
  hub.expect_file = dir / "expect.json";
  hub.cpp_dir = dir / "cpp";
  fs::create_directories(hub.cpp_dir);
  WriteText(hub.expect_file, Json{{"files", files}, {"history", history}}.dump());
  Json ls = a.RunJson({"ls", "-r"});
  WriteText(hub.cpp_dir / "ls.json", ls.dump());
  WriteText(hub.cpp_dir / "chat.json", a.RunJson({"chat"}).dump());
  WriteText(hub.cpp_dir / "conflicts.json", conflicts.dump());
  for (const auto& entry : ls) {
    if (entry.value("chunked", false)) hub.chunked_paths.insert(entry["path"]);
  }
  return hub;
}

class ReferenceReader : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NodeIsInstalled()) {
      GTEST_SKIP() << "node is not installed: the reference reader (shared/reference-reader) "
                      "needs it; nothing was checked against the reference software";
    }
    RunResult prepared = Shell(
        std::string("bash ") + NEARBYTES_SOURCE_DIR + "/scripts/prepare-reference-reader.sh " +
        Quote(NEARBYTES_REFERENCE_READER_DIR) + " " + Quote((dir_ / "reader").string()));
    ASSERT_EQ(prepared.exit_code, 0) << prepared.out;
  }

  // Runs the reader; returns its exit code and the report's checks.
  int Read(const WrittenHub& hub, Json* report, std::string* printed) {
    fs::path out = dir_ / "report.json";
    RunResult r = Shell("node " + Quote((dir_ / "reader" / "read-hub.mjs").string()) + " --store " +
                        Quote(hub.store.string()) + " --secret " + Quote(kSecret) + " --expect " +
                        Quote(hub.expect_file.string()) + " --cpp " + Quote(hub.cpp_dir.string()) +
                        " --out " + Quote(out.string()));
    *printed = r.out;
    *report = Json::parse(ReadText(out), nullptr, false);
    return r.exit_code;
  }

  static std::set<std::string> FailedChecks(const Json& report) {
    std::set<std::string> failed;
    for (const auto& check : report["checks"]) {
      if (!check["ok"].get<bool>()) failed.insert(check["item"].get<std::string>());
    }
    return failed;
  }

  TempDir dir_;
};

TEST_F(ReferenceReader, ReadsEveryFileVersionAndMessageOfAReferenceCompatibleHub) {
  WrittenHub hub = WriteScenario(dir_ / "hub", /*reference_compatible=*/true);
  EXPECT_TRUE(hub.chunked_paths.empty());
  Json report;
  std::string printed;
  int code = Read(hub, &report, &printed);
  ASSERT_TRUE(report.is_object()) << printed;
  EXPECT_EQ(code, 0) << printed;
  EXPECT_TRUE(FailedChecks(report).empty()) << printed;
  // The scenario really was read: every file, both messages, the conflict.
  size_t byte_checks = 0, chat_checks = 0, conflict_checks = 0;
  for (const auto& check : report["checks"]) {
    std::string item = check["item"];
    byte_checks += item.rfind("bytes of ", 0) == 0;
    chat_checks += item.rfind("chat sig of ", 0) == 0;
    conflict_checks += item.rfind("conflict shared/plan.txt", 0) == 0;
  }
  EXPECT_EQ(byte_checks, 7u) << printed;
  EXPECT_EQ(chat_checks, 2u) << printed;
  EXPECT_EQ(conflict_checks, 2u) << printed;  // live version, losing version readable
}

TEST_F(ReferenceReader, FailsOnExactlyTheChunkedFilesOfADefaultHub) {
  WrittenHub hub = WriteScenario(dir_ / "hub", /*reference_compatible=*/false);
  // Chunked: the two files over one chunk (4 MiB), and nothing else.
  EXPECT_EQ(hub.chunked_paths, (std::set<std::string>{"media/big.bin", "media/from-b.bin"}));
  Json report;
  std::string printed;
  int code = Read(hub, &report, &printed);
  ASSERT_TRUE(report.is_object()) << printed;
  EXPECT_EQ(code, 1) << printed;
  EXPECT_EQ(FailedChecks(report),
            (std::set<std::string>{"bytes of \"media/big.bin\"", "bytes of \"media/from-b.bin\""}))
      << printed;
}

}  // namespace
}  // namespace nb
