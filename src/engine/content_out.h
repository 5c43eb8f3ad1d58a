// get, cat and export: a hub's file content onto the local disk (or a file
// descriptor), verified as it is read (apps/files/file_content.h).
//
// Overwrite rules (the same for get and export):
// - a local file with the same content is left alone ("unchanged");
// - something that is not a regular file is never replaced;
// - a local file whose content differs is replaced only with `force`
//   (get fails; export skips it, lists it and goes on);
// - content is written to an exclusively created temp file, synced and
//   renamed into place (the directory synced too), with the hub's
//   modification time: an interrupted write never leaves a partial file
//   under the final name, and a file that appears meanwhile is not replaced
//   unless it was seen and `force` given. Export syncs in batches (one
//   sync of the file system for up to 1,024 temps before they are renamed,
//   one after): the same guarantee, without two syncs per file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apps/files/files_reading.h"
#include "engine/files_session.h"
#include "engine/progress.h"
#include "store/store.h"

namespace nb::engine {

using apps::files::FileEntry;

// The live file at `path` (normalized); a directory or nothing there is an
// error that says what to do.
Result<FileEntry> LiveFile(const apps::files::FilesReading& reading, const std::string& path);
// The version `id` names (an event id or unique prefix): a usable
// CREATE_FILE that is a version of `path` (apps/files IsVersionOf).
Result<FileEntry> VersionEntry(const apps::files::FilesReading& reading, const std::string& path,
                               const std::string& id);
// The files to read for `paths` (as typed): live ones, or with `version`
// (one path only) that version. All are resolved before any is read.
Result<std::vector<FileEntry>> FilesToRead(const apps::files::FilesReading& reading,
                                           const std::vector<std::string>& paths,
                                           const std::string& version);

// What is at a local path we are about to write.
enum class LocalState { kAbsent, kSame, kDifferent, kNotAFile };

// Compares a local file with a hub file's content, streaming both.
// `content_size` is ContentSize of `entry` if known (a local file of another
// size differs without reading either side).
Result<LocalState> CompareLocal(store::Store& store, const crypto::SymmetricKey& hub_key,
                                const FileEntry& entry, std::optional<uint64_t> content_size,
                                const std::filesystem::path& target);

// Writes the content to `target` durably (see the rules above); `replace`
// allows replacing an existing file.
Status WriteContentAtomically(store::Store& store, const crypto::SymmetricKey& hub_key,
                              const FileEntry& entry, const std::filesystem::path& target,
                              ProgressObserver* progress, bool replace);

// Streams the content to `fd` (e.g. standard output), naming `target` in
// errors. Bytes written before a failure stay written.
Status WriteContentToFd(store::Store& store, const crypto::SymmetricKey& hub_key,
                        const FileEntry& entry, int fd, const std::string& target);

struct GetOptions {
  std::string path;     // hub file, as typed
  std::string local;    // local file or directory ("" = the file's name here)
  std::string version;  // "" = the live file
  bool force = false;
};

struct GetResult {
  std::string path;  // normalized
  std::filesystem::path target;
  bool unchanged = false;  // the local file already had this content
  uint64_t size = 0;       // 0 if unknown
};

// get: one file to a local path (not "-": use FilesToRead and WriteContentToFd).
Result<GetResult> GetFile(FilesSession& session, const GetOptions& options,
                          ProgressObserver* progress);

struct ExportOptions {
  std::string path;  // hub directory as typed; "" or "/" = everything
  std::filesystem::path local;
  std::string at;  // "" = live; else a point in time (ChooseReading)
  bool force = false;
};

struct ExportResult {
  size_t files = 0;  // in the exported tree
  size_t written = 0;
  size_t unchanged = 0;
  // One line per file or directory left out: "PATH: why".
  std::vector<std::string> skipped;
  size_t differing = 0;  // of those, local files that differ (force replaces them)
  uint64_t bytes = 0;    // content bytes of the tree (those readable here)
  std::filesystem::path to;
  std::string at_label;  // as of what (empty: live)
};

// export: a hub directory (or everything) into a local directory, made if
// missing. A file that cannot be written is skipped; the export goes on.
Result<ExportResult> ExportTree(FilesSession& session, const ExportOptions& options,
                                ProgressObserver* progress);

}  // namespace nb::engine
