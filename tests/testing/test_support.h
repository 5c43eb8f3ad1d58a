// Helpers shared by the tests: the interop corpus, temp directories that
// clean themselves up, and running the real nearbytes binary.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nb::testing {

namespace fs = std::filesystem;

// ../shared/interop (overridable with NEARBYTES_INTEROP_DIR).
fs::path InteropDir();
nlohmann::json LoadJson(const fs::path& path);
const nlohmann::json& Vectors();

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Copies a corpus hub to a temp dir (tests never touch the corpus itself).
void CopyTree(const fs::path& from, const fs::path& to);

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the nearbytes binary with `args`, extra environment entries, and
// optional standard input. NEARBYTES_HOME defaults to a private temp dir.
RunResult RunCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {},
                 const std::string& stdin_data = "");

// The environment a child CLI gets: this process's, without
// NEARBYTES_SECRET, with `env` overriding any entry.
std::vector<std::string> CliEnvironment(const std::map<std::string, std::string>& env);
// The nearbytes binary the tests run: the one built beside them, or
// $NEARBYTES_TEST_CLI (to show that a test fails on an older binary).
std::string CliPath();
// Forks and execs the nearbytes binary in its own session with the given
// standard streams; returns its pid.
int StartCli(const std::vector<std::string>& args, const std::vector<std::string>& env_strings,
             int in_fd, int out_fd, int err_fd);

// Starts the nearbytes binary in the background (standard streams on
// /dev/null, its own session) and returns its pid, for tests that kill it.
int SpawnCli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

std::string ReadText(const fs::path& path);
void WriteText(const fs::path& path, const std::string& text);

}  // namespace nb::testing
