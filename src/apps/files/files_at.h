// The FILES tree as it was: time travel over the canonical order.
//
// "As of event E" is the replay of the canonical order up to and including
// E; "as of time T" is the replay of the FILES events stamped at or before
// T (a writer's clock never goes backwards, so for one writer both agree).
// Both are ordinary replays of a subset of the hub's facts, so the same
// facts give the same past tree on every machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "apps/files/files_reading.h"

namespace nb::apps::files {

// Where to travel to: an event (by hash) or a time (ms since the epoch).
struct PointInTime {
  std::optional<Hash256> event;
  std::optional<int64_t> time_ms;
  std::string label;  // what the user typed, for messages
};

// The shortest event-hash prefix commands accept (git's habit: any unique
// prefix). Six hex digits keep a prefix apart from dates like "2026".
constexpr size_t kMinEventPrefix = 6;

// Resolves a full hash or a unique prefix (kMinEventPrefix+ hex digits)
// among the events of the reading's canonical order. Errors say whether
// nothing or several events matched.
Result<Hash256> ResolveEventPrefix(const FilesReading& reading, std::string_view prefix);

// Parses --at: an event hash or prefix, a local date/time
// ("2026-11-25", "2026-11-25 14:30", "2026-11-25T14:30:05", a trailing "Z"
// for UTC), or an age ("90s", "15m", "2h", "3d", "1w" ago). `now_ms` is
// the reference for ages.
Result<PointInTime> ParsePointInTime(const FilesReading& reading, std::string_view text,
                                     int64_t now_ms);

// The tree as of `point`.
Result<FilesReading> ReadingAt(const FilesReading& reading, const PointInTime& point);

// The tree just before the most recent event that removed `path` (a DELETE
// or RENAME of it or of a directory above it). nullopt if no event removed
// it.
Result<std::optional<FilesReading>> ReadingBeforeRemoval(const FilesReading& reading,
                                                         const std::string& path);

// True when `event` is a version of `path`: a CREATE_FILE that wrote it, or
// the origin of the file now live there (a version renamed into place).
bool IsVersionOf(const FilesReading& reading, const Hash256& event, const std::string& path);

}  // namespace nb::apps::files
