// put: local files and whole trees into a hub. Two steps, so a face can show
// the plan's size before the long part:
//   PlanPut    walks the sources and decides each file's hub path; refuses,
//              before anything is stored, names that are not UTF-8 or not
//              valid hub paths, two sources for one path, a path that would
//              be both a file and a directory, and writing below a live file.
//              Symbolic links and special files are left out (listed).
//   StorePut   ingests the content (encrypted, deduplicated; several threads)
//              and writes one CREATE_FILE per file whose content changed and
//              one MKDIR per new empty directory. Files are published in
//              slices (up to 1,024 files or 64 MiB), blocks before events, so
//              peers start on the first files while the rest is read; after
//              an error the slices already published stay (the message says
//              how many files). A file that kept changing while read is not
//              put (listed). A file whose stamp the put cache remembers with
//              the content the hub already has there is not read at all.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/files/file_content.h"
#include "crypto/sha256.h"
#include "engine/files_session.h"
#include "engine/progress.h"

namespace nb::engine {

struct PutItem {
  std::string local;  // "-" for standard input
  std::string hub_path;
  uint64_t size = 0;
  std::optional<apps::files::FileStamp> stamp;  // as planned (regular files)
};

struct PutPlan {
  std::vector<PutItem> files;
  std::vector<std::string> empty_dirs;  // hub paths of empty local directories
  std::vector<std::string> skipped;     // "PATH (symbolic link)", ...
  uint64_t total_bytes = 0;
};

// `to` is the hub path as typed: a directory to put into (the root when
// empty; one ending in "/", an existing directory, or any target of several
// sources), or otherwise the new name of the one source. "-" reads standard
// input and needs a file name.
Result<PutPlan> PlanPut(const apps::files::FilesReading& reading,
                        const std::vector<std::string>& sources, const std::string& to);

struct PutFile {
  std::string hub_path;
  uint64_t size = 0;
  bool unchanged = false;                // the same content is live there already
  std::optional<crypto::Hash256> event;  // the CREATE_FILE written (not when unchanged)
};

struct PutResult {
  std::vector<PutFile> files;                      // in plan order
  std::vector<std::string> changed_while_reading;  // local paths not put
  size_t written = 0;
  size_t unchanged = 0;
  size_t unchanged_unread = 0;  // of those, known from the put cache (put_cache.h) without reading
  uint64_t bytes = 0;           // content bytes of the files put or unchanged
  uint64_t new_blocks = 0;      // blocks the store did not have
  uint64_t new_bytes = 0;
  double seconds = 0;  // ingest and commit
};

Result<PutResult> StorePut(FilesSession& session, const PutPlan& plan, ProgressObserver* progress);

}  // namespace nb::engine
