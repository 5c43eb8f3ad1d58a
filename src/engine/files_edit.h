// Changes to a hub's tree and its history: mkdir, mv, rm, restore, and the
// versions of a path. Each change is one or more events of the FILES app
// (apps/files/files_writer.h); old versions always stay in the history.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "engine/files_session.h"

namespace nb::engine {

struct PathEvent {
  std::string path;  // normalized
  crypto::Hash256 event;
};

// mkdir: an explicit directory at `path` (as typed). An existing directory
// is an error, or with `parents` nothing (nullopt).
Result<std::optional<PathEvent>> MakeDirectory(FilesSession& session, const std::string& path,
                                               bool parents);

struct Move {
  std::string from, to;  // normalized; `to` inside a directory it named
  crypto::Hash256 event;
};

// mv: like mv(1), moving onto an existing directory moves into it.
Result<Move> MovePath(FilesSession& session, const std::string& from, const std::string& to);

// rm: one REMOVE per path, in order; a directory needs `recursive`. Stops at
// the first path that cannot be removed (those before it stay removed).
Result<std::vector<PathEvent>> RemovePaths(FilesSession& session,
                                           const std::vector<std::string>& paths, bool recursive);

struct RestoreResult {
  std::string path;  // normalized
  std::string when;  // "before it was removed" or "at EVENT|TIME"
  size_t restored = 0;
  size_t unchanged = 0;  // already as then
  // Restored files whose content is not on this device (readable after a
  // sync with one that has it).
  std::vector<std::string> incomplete;
};

// restore: brings back every file under `path` as it was at `at` (a point in
// time, ChooseReading), or, without `at`, just before it was last removed
// (a path that is live now is then refused). Files already as then are left
// alone; explicit directories come back too. New versions: history stays.
Result<RestoreResult> RestorePath(FilesSession& session, const std::string& path,
                                  const std::string& at);

struct PathVersion {
  crypto::Hash256 event;
  std::string type;  // CREATE_FILE, RENAME, DELETE, MKDIR...
  int64_t time = 0;  // ms
  std::string path;
  std::string to_path;                     // RENAME
  std::optional<crypto::Hash256> content;  // versions with content
  std::optional<uint64_t> size;            // when the content's size is readable here
  bool live = false;                       // this version is the live file
};

// history: every event that touched `path` (as typed), oldest first.
Result<std::vector<PathVersion>> PathHistory(FilesSession& session, const std::string& path);

}  // namespace nb::engine
