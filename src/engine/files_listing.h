// ls, find and du: what a hub's FILES reading holds, with sizes and whether
// each file's content is present on this device.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/files_session.h"

namespace nb::engine {

struct ListedEntry {
  std::string path;
  bool dir = false;
  bool explicit_dir = false;  // made by MKDIR (not only implied by a file below)
  uint64_t size = 0;          // content bytes (files)
  int64_t modified = 0;       // ms (files)
  bool conflict = false;
  std::optional<apps::files::FileEntry> file;  // files only
  size_t missing_blocks = 0;                   // blocks of the content not present here
};

struct Listing {
  std::string base;                  // normalized
  bool one_file = false;             // base is a file: the listing is that file
  std::vector<ListedEntry> entries;  // sorted by path
};

// ls: the entries of a directory (all of its subtree with `recursive`), or
// one file; `at` lists the hub as it was (ChooseReading).
Result<Listing> ListFiles(FilesSession& session, const std::string& path, bool recursive,
                          const std::string& at);

struct FoundPath {
  std::string path;
  bool dir = false;
  int64_t modified = 0;            // files
  crypto::Hash256 origin_event{};  // files
};

// find: files and directories under `base` (as typed; "" = everywhere)
// whose path or name matches `pattern`: a glob if it has * ? or [, else a
// substring; both ignore ASCII case. Sorted by path.
Result<std::vector<FoundPath>> FindFiles(const apps::files::FilesReading& reading,
                                         const std::string& pattern, const std::string& base);

struct Usage {
  uint64_t bytes = 0;
  size_t files = 0;
  bool dir = false;
};

struct DiskUsageReport {
  std::string base;                       // normalized
  std::map<std::string, Usage> children;  // each direct child of base (or base itself, a file)
  Usage total;
  size_t unknown = 0;  // files whose size is unknown here (content missing): not counted
};

// du: how much the live files under `path` take.
Result<DiskUsageReport> DiskUsage(FilesSession& session, const std::string& path);

}  // namespace nb::engine
