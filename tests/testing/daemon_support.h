// Real daemons for tests: `nearbytes serve` started as a child process with
// its own home, its log captured in a file, stopped with SIGTERM when the
// test is done (and killed if it does not stop in time).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/test_support.h"

namespace nb::testing {

class DaemonProcess {
 public:
  // Starts `nearbytes serve --listen 127.0.0.1:0` (unless `extra_args` has a
  // --listen) with NEARBYTES_HOME=`home`, NEARBYTES_OFFLINE=1
  // unless `env` says otherwise, and `extra_args` after `serve`. Waits (at
  // most 10 s) until `nearbytes status` answers; Started() tells whether it did.
  DaemonProcess(const fs::path& home, std::vector<std::string> extra_args = {},
                std::map<std::string, std::string> env = {});
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  bool Started() const { return started_; }
  pid_t pid() const { return pid_; }
  const fs::path& home() const { return home_; }
  // The environment a CLI command aimed at this daemon's home gets.
  std::map<std::string, std::string> Env() const;
  // `nearbytes --json status` (null when it fails).
  nlohmann::json Status() const;
  // The daemon's log so far.
  std::string Log() const;
  // SIGTERM, then waits at most `timeout`; returns the exit status (or -1 if
  // it had to be killed). Idempotent.
  int Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // SIGKILL and reap.
  void Kill();

 private:
  fs::path home_;
  fs::path log_path_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
  bool started_ = false;
  int exit_status_ = -1;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace nb::testing
