// Defensive file primitives for the storage layer: bounded reads, and atomic,
// crash-safe publication (temp file in the target directory, fsync, link or
// no-replace rename, fsync of the directory).
#pragma once

#include <filesystem>
#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace nb::store {

namespace fs = std::filesystem;

struct PublishOptions {
  bool sync_file = true;       // fsync the data before it gets its final name
  bool sync_directory = true;  // fsync the directory after the name appears
};

// Names of temp files we create; readers skip them, the reaper removes stale ones.
constexpr std::string_view kTempPrefix = ".tmp-";

// Reads a whole file, refusing files larger than `max_size`.
Result<Bytes> ReadFileBytes(const fs::path& path, uint64_t max_size);

// Publishes `data` as `dir/name`. If `dir/name` already exists the call
// succeeds without touching it (content-addressed names make that safe).
// Returns true if this call created the file.
Result<bool> AtomicPublish(const fs::path& dir, const std::string& name, ByteSpan data,
                           const PublishOptions& options = {});

// Gives the temp file `temp` the name `final_path` unless that name exists
// (then the temp is removed and the result is false). Never replaces a file.
Result<bool> PublishTempAs(const fs::path& temp, const fs::path& final_path);

// Creates `dir` and its parents if missing.
Status EnsureDirectory(const fs::path& dir);
Status SyncDirectory(const fs::path& dir);

// Removes temp files (ours and the reference's "*.tmp") older than
// `max_age_seconds` in `dir`. Returns how many were removed.
size_t ReapStaleTemps(const fs::path& dir, int64_t max_age_seconds);

// One-line description of errno for messages.
std::string ErrnoText(int err);

}  // namespace nb::store
