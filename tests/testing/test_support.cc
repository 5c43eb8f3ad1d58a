#include "testing/test_support.h"

#include <csignal>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace nb::testing {

fs::path InteropDir() {
  if (const char* dir = std::getenv("NEARBYTES_INTEROP_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return NEARBYTES_INTEROP_DIR;
}

nlohmann::json LoadJson(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

const nlohmann::json& Vectors() {
  static const nlohmann::json vectors = LoadJson(InteropDir() / "vectors.json");
  return vectors;
}

TempDir::TempDir() {
  std::random_device rd;
  fs::path base = fs::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate =
        base / ("nbtest-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(candidate, ec)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temp dir");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void CopyTree(const fs::path& from, const fs::path& to) {
  fs::create_directories(to);
  fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
}

std::vector<std::string> CliEnvironment(const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  merged.erase("NEARBYTES_SECRET");
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : merged) out.push_back(k + "=" + v);
  return out;
}

std::string CliPath() {
  if (const char* path = std::getenv("NEARBYTES_TEST_CLI"); path != nullptr && *path != '\0') {
    return path;
  }
  return NEARBYTES_CLI_PATH;
}

int StartCli(const std::vector<std::string>& args, const std::vector<std::string>& env_strings,
             int in_fd, int out_fd, int err_fd) {
  std::vector<std::string> argv_strings{CliPath()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> envp_strings = env_strings;
  std::vector<char*> argv, envp;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : envp_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::signal(SIGPIPE, SIG_DFL);  // an ignored signal would stay ignored across exec
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    // No controlling terminal: a test must never hang on a prompt.
    ::setsid();
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

RunResult RunCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env, const std::string& stdin_data) {
  TempDir default_home;
  std::map<std::string, std::string> with_home{{"NEARBYTES_HOME", default_home.path().string()}};
  for (const auto& [k, v] : env) with_home[k] = v;

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = StartCli(args, CliEnvironment(with_home), in_pipe[0], out_pipe[1], err_pipe[1]);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!stdin_data.empty()) {
    // A child may stop reading early (a bounded read): that is an EPIPE
    // here, not a signal that kills the test.
    static const bool sigpipe_ignored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    size_t done = 0;
    while (done < stdin_data.size()) {
      ssize_t n = ::write(in_pipe[1], stdin_data.data() + done, stdin_data.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
  }
  ::close(in_pipe[1]);

  RunResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

int SpawnCli(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_t pid = StartCli(args, CliEnvironment(env), null_fd, null_fd, null_fd);
  ::close(null_fd);
  return pid;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace nb::testing
