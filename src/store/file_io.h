// Defensive file primitives: bounded reads; atomic, crash-safe publication of
// content-addressed files (temp file in the target directory, fsync, link or
// no-replace rename, fsync of the directory); and the one way to replace a
// file durably (ReplaceFileDurably for small content, DurableFileWriter for
// streamed content).
//
// Every durable write follows the same order, and the order is the contract:
//   1. create a temp file in the target's directory: O_CREAT|O_EXCL|O_NOFOLLOW
//      under an unpredictable name, so a planted file or symlink is never
//      opened or followed;
//   2. write, then fsync the temp file (its bytes are durable before any name
//      points at them);
//   3. rename (or link) the temp to its final name;
//   4. fsync the directory (the name itself is durable).
// A crash leaves either the old file or the new one, never a mix, and at
// worst a ".tmp-" file that the store's reaper removes.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/status.h"

namespace nb::store {

namespace fs = std::filesystem;

struct PublishOptions {
  bool sync_file = true;       // fsync the data before it gets its final name
  bool sync_directory = true;  // fsync the directory after the name appears
};

// Names of temp files we create; readers skip them, the reaper removes stale
// ones. Full form: ".tmp-<host tag>-<pid>-<16 hex random>-<final name>".
constexpr std::string_view kTempPrefix = ".tmp-";

// 8 hex digits naming this machine (a hash of its host name). Temp names carry
// it so a reaper never judges a temp another machine writes into a shared
// folder by this machine's processes.
const std::string& HostTag();
// A fresh temp file name for `final_name` (final name shortened so the whole
// stays under NAME_MAX).
std::string TempNameFor(std::string_view final_name);
// True if `name` is a temp name that this machine's writers create.
bool IsThisHostsTempName(std::string_view name);

// ---- observing the order of durable steps (tests) ----

// The steps a durable write takes, each reported just before its system
// call. An observer may fail a step (fault injection): the write then fails
// as if the system call had, and cleans up.
enum class IoStep {
  kCreateTemp,      // open(O_CREAT|O_EXCL|O_NOFOLLOW) of a temp file
  kSyncFile,        // fsync of a file's data
  kSyncFileSystem,  // syncfs of a whole file system (BatchPublisher)
  kPublish,         // no-replace rename or link of a temp to its final name
  kReplace,         // rename of a temp over its final name
  kSyncDirectory,   // fsync of a directory
};
const char* IoStepName(IoStep step);

class IoObserver {
 public:
  virtual ~IoObserver() = default;
  // `path` is the file or directory the step acts on (for kPublish and
  // kReplace, the final name). Thread-safe implementations only: writers
  // run on several threads.
  virtual Status Before(IoStep step, const fs::path& path) = 0;
};
// Installs `observer` for the whole process (nullptr removes it). Tests only.
void SetIoObserver(IoObserver* observer);

// ---- reading ----

// Reads a whole file, refusing files larger than `max_size`.
Result<Bytes> ReadFileBytes(const fs::path& path, uint64_t max_size);

// ---- content-addressed publication (never replaces) ----

// Publishes `data` as `dir/name`. If `dir/name` already exists the call
// succeeds without touching it (content-addressed names make that safe).
// Returns true if this call created the file.
Result<bool> AtomicPublish(const fs::path& dir, const std::string& name, ByteSpan data,
                           const PublishOptions& options = {});

// Gives the temp file `temp` the name `final_path` unless that name exists
// (then the temp is removed and the result is false). Never replaces a file.
Result<bool> PublishTempAs(const fs::path& temp, const fs::path& final_path);

// ---- durable replacement ----

enum class IfExists {
  kReplace,  // the new content replaces the old file atomically
  kFail,     // kInvalidArgument "... already exists" (checked atomically, at publish)
};

struct ReplaceOptions {
  mode_t mode = 0644;  // exact mode of the new file (0600 for secrets)
  IfExists if_exists = IfExists::kReplace;
  // false: `mode` narrowed by the umask, as cp and editors create files
  // (export's files are the user's); saves an fchmod per file.
  bool exact_mode = true;
};

// Replaces `path` with `data` durably (steps 1-4 above). On any error the
// old file is untouched and no temp file remains. Errors name `path`, never
// the temp file.
Status ReplaceFileDurably(const fs::path& path, ByteSpan data, const ReplaceOptions& options = {});

// The streaming form, for content too large to hold in memory:
//
//   NB_ASSIGN_OR_RETURN(auto out, DurableFileWriter::Create(target));
//   while (...) NB_RETURN_IF_ERROR(out.Write(chunk));
//   NB_RETURN_IF_ERROR(out.Commit());  // fsync, rename over, fsync dir
//
// Until Commit succeeds nothing is visible under the target name; if the
// writer is destroyed uncommitted (error, exception, early return) its temp
// file is removed. Errors name the target, never the temp. Not thread-safe.
class DurableFileWriter {
 public:
  static Result<DurableFileWriter> Create(const fs::path& target,
                                          const ReplaceOptions& options = {});
  DurableFileWriter(DurableFileWriter&& other) noexcept;
  DurableFileWriter& operator=(DurableFileWriter&& other) noexcept;
  DurableFileWriter(const DurableFileWriter&) = delete;
  DurableFileWriter& operator=(const DurableFileWriter&) = delete;
  ~DurableFileWriter();

  Status Write(ByteSpan data);
  // Sets the modification time the committed file will have (ms since epoch).
  Status SetModifiedTime(int64_t unix_ms);
  // fsync, rename over the target (or, with IfExists::kFail, publish only if
  // the target does not exist), fsync of the directory. Once only.
  Status Commit();

  // The batch form of Commit, for thousands of small files (export): the
  // caller closes many writers unsynced, makes all their bytes durable at
  // once (SyncFileSystemOf each file system written), publishes each, and
  // syncs once more for the names. Same guarantee as Commit: a name never
  // shows bytes that were not durable first; one sync per batch instead of
  // two per file.
  Status CloseUnsynced();
  // Once the closed temp's bytes are durable: rename (or publish) as Commit
  // does, without the directory fsync.
  Status PublishSynced();

  const fs::path& target() const { return target_; }
  uint64_t bytes_written() const { return written_; }

 private:
  DurableFileWriter(fs::path target, fs::path temp, int fd, IfExists if_exists);
  void Abandon();

  fs::path target_;
  fs::path temp_;
  int fd_ = -1;
  IfExists if_exists_ = IfExists::kReplace;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// ---- directories and maintenance ----

// Creates `dir` and its parents if missing.
Status EnsureDirectory(const fs::path& dir);
Status SyncDirectory(const fs::path& dir);
// syncfs(2) of the file system holding `path`.
Status SyncFileSystemOf(const fs::path& path);

// Removes temp files (ours and the reference's "*.tmp") older than
// `max_age_seconds` in `dir`. Returns how many were removed.
size_t ReapStaleTemps(const fs::path& dir, int64_t max_age_seconds);
// Removes every temp file of this host's writers in `dir`, whatever its age.
// Only for a caller that knows no writer of this host is alive (see
// storage_root.h, the writer lock). Returns how many were removed.
size_t ReapThisHostsTemps(const fs::path& dir);

// One-line description of errno for messages.
std::string ErrnoText(int err);

// Writes all of `data` to `fd`, retrying short writes and EINTR. Returns 0,
// or the errno of the write that failed (callers word their own message).
int WriteFully(int fd, ByteSpan data);

}  // namespace nb::store
