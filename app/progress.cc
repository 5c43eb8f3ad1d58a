#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include "cli.h"

namespace nb::cli {

Progress::Progress(std::string verb, uint64_t total_bytes, uint64_t total_files, bool enabled,
                   std::string unit)
    : verb_(std::move(verb)),
      unit_(std::move(unit)),
      total_bytes_(total_bytes),
      total_files_(total_files),
      enabled_(enabled && ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {
  if (!enabled_) return;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; })) {
      Render(false);
    }
  });
}

Progress::~Progress() { Finish(); }

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Finish() {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void Progress::Render(bool /*final*/) {
  uint64_t bytes = bytes_.load(std::memory_order_relaxed);
  uint64_t files = files_.load(std::memory_order_relaxed);
  double elapsed = ElapsedSeconds();
  if (!unit_.empty()) {
    std::fprintf(stderr, "\r\033[K%s", CountLine(files, elapsed).c_str());
    std::fflush(stderr);
    return;
  }
  double rate = elapsed > 0 ? static_cast<double>(bytes) / elapsed : 0;
  std::string line = verb_ + " " + HumanBytes(bytes);
  if (total_bytes_ > 0) {
    int percent =
        static_cast<int>(100.0 * static_cast<double>(bytes) / static_cast<double>(total_bytes_));
    line += " / " + HumanBytes(total_bytes_) + " (" + std::to_string(percent) + "%)";
  }
  if (total_files_ > 1) {
    line += ", " + std::to_string(files) + "/" + std::to_string(total_files_) + " files";
  }
  line += ", " + HumanRate(rate);
  if (total_bytes_ > bytes && rate > 0) {
    line += ", ETA " + HumanDuration(static_cast<double>(total_bytes_ - bytes) / rate);
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
}

std::string Progress::CountLine(uint64_t done, double elapsed) const {
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string line = verb_ + " " + std::to_string(done);
  if (total_files_ > 0) {
    int percent =
        static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total_files_));
    line +=
        "/" + std::to_string(total_files_) + " " + unit_ + " (" + std::to_string(percent) + "%)";
  } else {
    line += " " + unit_;
  }
  char rate_text[32];
  if (rate >= 1000) {
    std::snprintf(rate_text, sizeof(rate_text), "%.1fk", rate / 1000);
  } else {
    std::snprintf(rate_text, sizeof(rate_text), "%.0f", rate);
  }
  line += ", " + std::string(rate_text) + " " + unit_ + "/s";
  if (total_files_ > done && rate > 0) {
    line += ", ETA " + HumanDuration(static_cast<double>(total_files_ - done) / rate);
  }
  return line;
}

std::string HumanDuration(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof(buf), "%.1f s", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(seconds) / 3600,
                  (static_cast<int>(seconds) / 60) % 60);
  }
  return buf;
}

std::string HumanRate(double bytes_per_second) {
  return HumanBytes(static_cast<uint64_t>(bytes_per_second)) + "/s";
}

}  // namespace nb::cli
