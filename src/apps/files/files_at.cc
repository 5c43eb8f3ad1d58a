#include "apps/files/files_at.h"

#include <cctype>
#include <ctime>

namespace nb::apps::files {
namespace {

bool IsHexText(std::string_view text) {
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return !text.empty();
}

// Positions (in canonical order) of the events that make up the past tree.
Result<FilesReading> ReplayPositions(const FilesReading& reading,
                                     const std::function<bool(size_t, const DecodedEvent&)>& keep) {
  std::vector<DecodedEvent> events;
  for (size_t k = 0; k < reading.size(); ++k) {
    auto event = reading.FindEvent(reading.HashAt(k));
    if (!event) {
      return MakeError(ErrorCode::kCorrupt,
                       "event " + reading.HashAt(k).Hex().substr(0, 16) +
                           " is missing from the local state; run `nearbytes verify`");
    }
    if (keep(k, *event)) events.push_back(std::move(*event));
  }
  return FilesReading::Replay(std::move(events));
}

bool Above(std::string_view ancestor, std::string_view path) {
  return ancestor == path || (path.size() > ancestor.size() && path.starts_with(ancestor) &&
                              path[ancestor.size()] == '/');
}

}  // namespace

Result<Hash256> ResolveEventPrefix(const FilesReading& reading, std::string_view prefix) {
  std::string lowered(prefix);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!IsHexText(lowered) || lowered.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "\"" + std::string(prefix) + "\" is not an event id (hex digits)");
  }
  if (lowered.size() < kMinEventPrefix) {
    return MakeError(ErrorCode::kInvalidArgument, "event id \"" + std::string(prefix) +
                                                      "\" is too short: give at least " +
                                                      std::to_string(kMinEventPrefix) + " digits");
  }
  std::optional<Hash256> found;
  size_t matches = 0;
  for (size_t k = 0; k < reading.size(); ++k) {
    const Hash256& hash = reading.HashAt(k);
    if (hash.Hex().compare(0, lowered.size(), lowered) == 0) {
      ++matches;
      found = hash;
    }
  }
  if (matches == 0) {
    return MakeError(ErrorCode::kNotFound, "no event " + lowered + " in this hub's files");
  }
  if (matches > 1) {
    return MakeError(ErrorCode::kInvalidArgument, "event id " + lowered + " matches " +
                                                      std::to_string(matches) +
                                                      " events: give more digits");
  }
  return *found;
}

Result<PointInTime> ParsePointInTime(const FilesReading& reading, std::string_view text,
                                     int64_t now_ms) {
  PointInTime point;
  point.label = std::string(text);
  // An age: digits and one unit letter.
  if (text.size() >= 2 && std::string_view("smhdw").find(text.back()) != std::string_view::npos) {
    std::string_view digits = text.substr(0, text.size() - 1);
    bool all_digits = digits.size() <= 9;
    for (char c : digits) all_digits = all_digits && std::isdigit(static_cast<unsigned char>(c));
    if (all_digits) {
      int64_t count = std::stoll(std::string(digits));
      int64_t unit = 0;
      switch (text.back()) {
        case 's':
          unit = 1000;
          break;
        case 'm':
          unit = 60'000;
          break;
        case 'h':
          unit = 3'600'000;
          break;
        case 'd':
          unit = 86'400'000;
          break;
        default:
          unit = 7 * 86'400'000LL;
          break;
      }
      point.time_ms = now_ms - count * unit;
      return point;
    }
  }
  // A date, with an optional time.
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    std::string value(text);
    bool utc = !value.empty() && (value.back() == 'Z' || value.back() == 'z');
    if (utc) value.pop_back();
    std::tm tm{};
    const char* end = nullptr;
    for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M",
                               "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
      tm = std::tm{};
      end = ::strptime(value.c_str(), format, &tm);
      if (end != nullptr && *end == '\0') break;
      end = nullptr;
    }
    if (end == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cannot read the date \"" + point.label +
                           "\" (use 2026-11-25, 2026-11-25 14:30 or 2026-11-25T14:30:05Z)");
    }
    tm.tm_isdst = -1;
    std::time_t seconds = utc ? ::timegm(&tm) : std::mktime(&tm);
    if (seconds == static_cast<std::time_t>(-1)) {
      return MakeError(ErrorCode::kInvalidArgument, "cannot read the date \"" + point.label + "\"");
    }
    // A date alone means the end of that day.
    bool date_only = value.size() == 10;
    point.time_ms = static_cast<int64_t>(seconds) * 1000 + (date_only ? 86'400'000 - 1 : 999);
    return point;
  }
  auto event = ResolveEventPrefix(reading, text);
  if (!event.ok()) {
    if (!IsHexText(text)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--at \"" + point.label +
                           "\": give an event id, a date (2026-11-25 14:30) or an age (2h, 3d)");
    }
    return event.error();
  }
  point.event = *event;
  return point;
}

Result<FilesReading> ReadingAt(const FilesReading& reading, const PointInTime& point) {
  if (point.event) {
    std::optional<size_t> end;
    for (size_t k = 0; k < reading.size() && !end; ++k) {
      if (reading.HashAt(k) == *point.event) end = k + 1;
    }
    if (!end) {
      return MakeError(ErrorCode::kNotFound,
                       "no event " + point.event->Hex().substr(0, 16) + " in this hub's files");
    }
    return ReplayPositions(reading, [end](size_t k, const DecodedEvent&) { return k < *end; });
  }
  int64_t limit = point.time_ms.value_or(INT64_MAX);
  return ReplayPositions(
      reading, [limit](size_t, const DecodedEvent& event) { return event.timestamp <= limit; });
}

Result<std::optional<FilesReading>> ReadingBeforeRemoval(const FilesReading& reading,
                                                         const std::string& path) {
  for (size_t k = reading.size(); k-- > 0;) {
    auto event = reading.FindEvent(reading.HashAt(k));
    if (!event || !event->files || !event->files->usable) continue;
    const FilesEvent& files = *event->files;
    bool removes =
        (files.op == FileOp::kDelete || files.op == FileOp::kRename) && Above(files.path, path);
    if (!removes) continue;
    NB_ASSIGN_OR_RETURN(
        FilesReading before,
        ReplayPositions(reading, [k](size_t i, const DecodedEvent&) { return i < k; }));
    return std::optional<FilesReading>(std::move(before));
  }
  return std::optional<FilesReading>();
}

bool IsVersionOf(const FilesReading& reading, const Hash256& event, const std::string& path) {
  auto live = reading.files().find(path);
  if (live != reading.files().end() && live->second.origin_event == event) return true;
  for (const auto& version : reading.History(path)) {
    if (version.event == event && version.op == FileOp::kCreateFile) return true;
  }
  return false;
}

}  // namespace nb::apps::files
