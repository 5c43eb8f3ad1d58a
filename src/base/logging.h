// The daemon's log: one line per event on stderr, with a UTC timestamp, a
// level and the component that speaks. systemd's journal adds its own
// timestamps, but a log piped to a file or read in a terminal needs them.
//
//   2026-11-25T12:40:01.123Z INFO  sync: peer 127.0.0.1:4441 connected
//
// Thread-safe: a line is written whole with one write(2). Newlines inside a
// message are escaped, so one event is always one line (grep-able, and a
// peer cannot forge log lines by sending text with newlines in it).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace nb {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Lines below `level` are dropped. The default is kInfo; NEARBYTES_LOG
// (debug|info|warn|error) overrides it when SetLogLevelFromEnvironment runs.
void SetLogLevel(LogLevel level);
void SetLogLevelFromEnvironment();
bool LogEnabled(LogLevel level);

// Parses "debug", "info", "warn" or "error"; false if it is none of them.
bool ParseLogLevel(std::string_view text, LogLevel* level);

void LogLine(LogLevel level, std::string_view component, std::string_view message);

// Builds a line with operator<< and writes it when it goes out of scope:
//   NB_LOG(kInfo, "sync") << "peer " << address << " connected";
class LogMessage {
 public:
  LogMessage(LogLevel level, std::string_view component) : level_(level), component_(component) {}
  ~LogMessage() { LogLine(level_, component_, stream_.str()); }
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::string_view component_;
  std::ostringstream stream_;
};

}  // namespace nb

// The stream expression is not evaluated when the level is off.
#define NB_LOG(level, component)                \
  if (!::nb::LogEnabled(::nb::LogLevel::level)) \
    ;                                           \
  else                                          \
    ::nb::LogMessage(::nb::LogLevel::level, component).stream()
