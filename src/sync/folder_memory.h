// A remembered listing of a folder sync: after a run that found both sides
// complete (nothing copied, nothing refused, no junk), the change stamps of
// every directory the carrier lists are recorded in the local state
// directory. The next run with the same folder, hubs and keys stats those
// directories (a few system calls) and, if every stamp is unchanged, knows
// without listing 100,000 names that there is still nothing to do.
//
// Why directory stamps are enough: every file the carrier looks at is a
// name in one of these directories (blocks/, channels/, channels/<hub>/ of
// each side; .nearbytes/ of the folder for the scan's link check), and
// creating, removing or renaming a name there sets the directory's ctime to
// the current time. No program can set a ctime back (utimes sets it to now),
// so a tool that restores mtimes (rsync -a, cloud clients) still changes the
// stamp. A file rewritten in place changes no directory; a run that lists
// would not read it either (the events' references are remembered, see
// event_refs.h), so the shortcut sees what a listing would.
//
// The racy case (git's "racily clean" index entries): a change made in the
// same clock tick as the last stamp leaves the stamp equal. So a record is
// only written if every stamp was taken before the run started and is older
// than kTrustAfterSeconds at that moment (more than the 2 s timestamp
// granularity of FAT sticks); anything newer is listed again next time,
// and that run records it. Stamps are compared for equality (device, inode,
// mode, mtime, ctime), never "older than".
//
// The record is a cache: torn or damaged, it fails its checksum and the
// run lists; it is never fsynced.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace nb::sync {

constexpr int64_t kTrustAfterSeconds = 3;

struct DirStamp {
  std::string path;
  bool exists = false;
  uint64_t dev = 0, ino = 0;
  uint32_t mode = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;

  bool operator==(const DirStamp&) const = default;
};

// lstat of `path` (a link is stamped as the link). A missing directory is
// stamped as absent; any other error is returned.
Result<DirStamp> StampDirectory(const std::filesystem::path& path);

class FolderMemory {
 public:
  // `file`: where the record lives. `key`: everything besides the stamps
  // that decides what a run does (folder, directions, hubs, which keys are
  // held): a record made under another key never matches.
  FolderMemory(std::filesystem::path file, std::string key, std::vector<std::filesystem::path> dirs)
      : file_(std::move(file)), key_(std::move(key)), dirs_(std::move(dirs)) {}

  // The current stamps of the directories, in order.
  Result<std::vector<DirStamp>> Stamp() const;
  // True if a valid record under this key holds exactly `stamps`.
  bool Matches(const std::vector<DirStamp>& stamps) const;
  // Records `before` if it equals `after` (nothing changed while the run
  // listed and compared) and every stamp is older than kTrustAfterSeconds
  // at `started_ns` (wall clock, taken before `before`); otherwise forgets
  // any record. Returns whether a record was written.
  bool RecordIfSettled(const std::vector<DirStamp>& before, const std::vector<DirStamp>& after,
                       int64_t started_ns);
  void Forget() const;

 private:
  std::string Serialize(const std::vector<DirStamp>& stamps) const;

  std::filesystem::path file_;
  std::string key_;
  std::vector<std::filesystem::path> dirs_;
};

// The wall clock in nanoseconds since the epoch (the clock file times use).
int64_t WallClockNs();

}  // namespace nb::sync
