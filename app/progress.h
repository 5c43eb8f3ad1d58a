// A progress line on stderr for long work: bytes, files, rate and ETA,
// redrawn ten times a second while stderr is a terminal; silent otherwise.
// A line given a `unit` counts items instead of bytes ("verifying 1200/5000
// events (24%), 15.2k events/s, ETA 0.2 s"): the work's files are those units.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/progress.h"

namespace nb::cli {

class Progress {
 public:
  Progress(std::string verb, uint64_t total_bytes, uint64_t total_files, bool enabled,
           std::string unit = "");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void SetBytes(uint64_t bytes) { bytes_.store(bytes, std::memory_order_relaxed); }
  void AddBytes(uint64_t bytes) { bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  void AddFiles(uint64_t files) { files_.fetch_add(files, std::memory_order_relaxed); }
  // Clears the line; call before printing the summary.
  void Finish();
  double ElapsedSeconds() const;

 private:
  void Render(bool final);
  std::string CountLine(uint64_t done, double elapsed) const;

  std::string verb_;
  std::string unit_;  // empty: bytes and files
  uint64_t total_bytes_;
  uint64_t total_files_;
  bool enabled_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> files_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread ticker_;
};

// The progress line fed by an engine operation: drawn from Begin (when the
// engine knows the size of the work) to End.
class ProgressLine : public engine::ProgressObserver {
 public:
  ProgressLine(std::string verb, bool enabled, std::string unit = "")
      : verb_(std::move(verb)),
        unit_(std::move(unit)),
        enabled_(enabled),
        start_(std::chrono::steady_clock::now()) {}
  // May be called again after End, for the next piece of work.
  void Begin(uint64_t total_bytes, uint64_t total_files) override {
    line_.reset();
    line_.emplace(verb_, total_bytes, total_files, enabled_, unit_);
  }
  void SetBytes(uint64_t bytes) override {
    if (line_) line_->SetBytes(bytes);
  }
  void AddBytes(uint64_t bytes) override {
    if (line_) line_->AddBytes(bytes);
  }
  void AddFiles(uint64_t files) override {
    if (line_) line_->AddFiles(files);
  }
  void End() override {
    if (line_) line_->Finish();
  }
  // Since this line was made.
  double ElapsedSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::string verb_;
  std::string unit_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::optional<Progress> line_;
};

std::string HumanDuration(double seconds);
std::string HumanRate(double bytes_per_second);

}  // namespace nb::cli
