#include "testing/daemon_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <thread>

namespace nb::testing {

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

DaemonProcess::DaemonProcess(const fs::path& home, std::vector<std::string> extra_args,
                             std::map<std::string, std::string> env)
    : home_(home), log_path_(home.parent_path() / (home.filename().string() + "-daemon.log")) {
  fs::create_directories(home_);
  env_ = {{"NEARBYTES_HOME", home_.string()}, {"NEARBYTES_OFFLINE", "1"}};
  for (const auto& [key, value] : env) env_[key] = value;
  std::vector<std::string> args{"serve"};
  // An ephemeral port unless the test chose one: tests run in parallel.
  if (std::find(extra_args.begin(), extra_args.end(), "--listen") == extra_args.end()) {
    args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_ = StartCli(args, CliEnvironment(env_), null_fd, null_fd, log_fd);
  ::close(null_fd);
  ::close(log_fd);
  started_ = WaitUntil(
      [this] {
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          pid_ = -1;
          return true;  // it exited: stop waiting (not started)
        }
        return !Status().is_null();
      },
      std::chrono::seconds(10));
  started_ = started_ && pid_ > 0;
}

DaemonProcess::~DaemonProcess() {
  if (Stop() == -1 && pid_ > 0) Kill();
}

std::map<std::string, std::string> DaemonProcess::Env() const { return env_; }

nlohmann::json DaemonProcess::Status() const {
  RunResult result = RunCli({"--json", "status"}, env_);
  if (result.exit_code != 0) return nullptr;
  auto doc = nlohmann::json::parse(result.out, nullptr, false);
  if (doc.is_discarded()) return nullptr;
  return doc;
}

std::string DaemonProcess::Log() const {
  std::error_code ec;
  if (!fs::exists(log_path_, ec)) return "";
  return ReadText(log_path_);
}

int DaemonProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return exit_status_;
  ::kill(pid_, SIGTERM);
  bool exited = WaitUntil(
      [this] {
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        }
        return false;
      },
      timeout);
  if (!exited) {
    Kill();
    return -1;
  }
  pid_ = -1;
  return exit_status_;
}

void DaemonProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  ::waitpid(pid_, &status, 0);
  exit_status_ = -1;
  pid_ = -1;
}

}  // namespace nb::testing
