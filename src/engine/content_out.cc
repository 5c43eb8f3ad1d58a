#include "engine/content_out.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "apps/files/file_content.h"
#include "apps/files/files_at.h"
#include "base/parallel.h"
#include "engine/hub_paths.h"
#include "store/file_io.h"

namespace nb::engine {

using apps::files::FilesReading;
namespace fs = std::filesystem;

// An export's batch (see ExportTree): as the put's slices, small enough
// that an interrupted export keeps most of its work.
constexpr size_t kExportBatchFiles = 1024;
constexpr uint64_t kExportBatchBytes = uint64_t{64} << 20;

// Streams a file's content to `fd`, naming `target` in errors.
Status WriteContentToFd(store::Store& store, const crypto::SymmetricKey& hub_key,
                        const FileEntry& entry, int fd, const std::string& target) {
  return apps::files::ReadContent(
      store, hub_key, entry.content, entry.wrapped_key, [&](ByteSpan data) -> Status {
        if (int err = store::WriteFully(fd, data); err != 0) {
          return MakeError(ErrorCode::kIo, "cannot write " + target + ": " + store::ErrnoText(err));
        }
        return Status::Ok();
      });
}

namespace {

// The content in an exclusively created temp beside `target` (a planted
// file or symlink is never followed), with the hub's modification time,
// not yet synced or published.
Result<store::DurableFileWriter> WriteContentToTemp(store::Store& store,
                                                    const crypto::SymmetricKey& hub_key,
                                                    const FileEntry& entry, const fs::path& target,
                                                    ProgressObserver* progress, bool replace) {
  store::ReplaceOptions options;
  options.mode = 0644;
  options.if_exists = replace ? store::IfExists::kReplace : store::IfExists::kFail;
  options.exact_mode = false;  // the user's umask applies, as with cp
  NB_ASSIGN_OR_RETURN(store::DurableFileWriter writer,
                      store::DurableFileWriter::Create(target, options));
  NB_RETURN_IF_ERROR(apps::files::ReadContent(store, hub_key, entry.content, entry.wrapped_key,
                                              [&](ByteSpan data) -> Status {
                                                NB_RETURN_IF_ERROR(writer.Write(data));
                                                if (progress != nullptr)
                                                  progress->AddBytes(data.size());
                                                return Status::Ok();
                                              }));
  // Keep the hub's modification time on the local copy.
  NB_RETURN_IF_ERROR(writer.SetModifiedTime(entry.modified_ms));
  return writer;
}

}  // namespace

// Writes content to `target` durably through the store's one durable
// writer: temp file, fsync, rename, fsync of the directory. An interrupted
// get never leaves a partial file under the final name. `replace` allows
// replacing an existing file; without it the write fails if a file appeared
// there meanwhile.
Status WriteContentAtomically(store::Store& store, const crypto::SymmetricKey& hub_key,
                              const FileEntry& entry, const fs::path& target,
                              ProgressObserver* progress, bool replace) {
  NB_ASSIGN_OR_RETURN(store::DurableFileWriter writer,
                      WriteContentToTemp(store, hub_key, entry, target, progress, replace));
  return writer.Commit();
}

// Compares a local file with a hub file's content, streaming both.
// `content_size` is the caller's ContentSize of `entry` (nullopt: unknown),
// so a chunked file's manifest is not opened once more here.
Result<LocalState> CompareLocal(store::Store& store, const crypto::SymmetricKey& hub_key,
                                const FileEntry& entry, std::optional<uint64_t> content_size,
                                const fs::path& target) {
  struct stat st;
  if (::lstat(target.c_str(), &st) != 0) {
    if (errno == ENOENT) return LocalState::kAbsent;
    return MakeError(ErrorCode::kIo,
                     "cannot read " + target.string() + ": " + store::ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) return LocalState::kNotAFile;
  // Different sizes: no need to read either side.
  if (content_size && *content_size != static_cast<uint64_t>(st.st_size)) {
    return LocalState::kDifferent;
  }
  int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return LocalState::kDifferent;  // unreadable: treat as different
  bool same = true;
  Bytes local;
  Status read = apps::files::ReadContent(
      store, hub_key, entry.content, entry.wrapped_key, [&](ByteSpan data) -> Status {
        if (!same) return Status::Ok();
        local.resize(data.size());
        size_t got = 0;
        while (got < data.size()) {
          ssize_t n = ::read(fd, local.data() + got, data.size() - got);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) break;
          got += static_cast<size_t>(n);
        }
        same = got == data.size() && std::memcmp(local.data(), data.data(), got) == 0;
        return Status::Ok();
      });
  if (same) {
    char extra;
    ssize_t n;
    do {
      n = ::read(fd, &extra, 1);
    } while (n < 0 && errno == EINTR);
    same = n == 0;  // the local file must end where the content ends
  }
  ::close(fd);
  NB_RETURN_IF_ERROR(read);
  return same ? LocalState::kSame : LocalState::kDifferent;
}

// The version a --version id names: a CREATE_FILE of this hub that wrote
// `path` (any unique prefix of its event id).
Result<FileEntry> VersionEntry(const FilesReading& reading, const std::string& path,
                               const std::string& id) {
  NB_ASSIGN_OR_RETURN(crypto::Hash256 hash, apps::files::ResolveEventPrefix(reading, id));
  auto event = reading.FindEvent(hash);
  if (!event || !event->files || event->files->op != apps::files::FileOp::kCreateFile ||
      !event->files->usable) {
    return MakeError(ErrorCode::kNotFound, "event " + hash.Hex().substr(0, 16) +
                                               " is not a file version (see `nearbytes history " +
                                               path + "`)");
  }
  if (!apps::files::IsVersionOf(reading, hash, path)) {
    return MakeError(ErrorCode::kInvalidArgument, "event " + hash.Hex().substr(0, 16) +
                                                      " is a version of " + event->files->path +
                                                      ", not of " + path +
                                                      " (see `nearbytes history " + path + "`)");
  }
  return FileEntry{*event->files->content, event->files->wrapped_key, event->timestamp,
                   event->files->mime_type, event->hash};
}

Result<FileEntry> LiveFile(const FilesReading& reading, const std::string& path) {
  auto it = reading.files().find(path);
  if (it != reading.files().end()) return it->second;
  if (reading.IsDirectory(path)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + " is a directory (use `nearbytes export " + path + " DIR`)");
  }
  return MakeError(ErrorCode::kNotFound, "no such file: " + path);
}

Result<std::vector<FileEntry>> FilesToRead(const FilesReading& reading,
                                           const std::vector<std::string>& paths,
                                           const std::string& version) {
  if (!version.empty() && paths.size() != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "--version goes with one path");
  }
  std::vector<FileEntry> entries;
  for (const auto& raw : paths) {
    std::string path = NormalizeHubPath(raw);
    if (!version.empty()) {
      NB_ASSIGN_OR_RETURN(FileEntry entry, VersionEntry(reading, path, version));
      entries.push_back(std::move(entry));
    } else {
      NB_ASSIGN_OR_RETURN(FileEntry entry, LiveFile(reading, path));
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

Result<GetResult> GetFile(FilesSession& session, const GetOptions& options,
                          ProgressObserver* progress) {
  GetResult result;
  result.path = NormalizeHubPath(options.path);
  NB_ASSIGN_OR_RETURN(std::vector<FileEntry> entries,
                      FilesToRead(session.reading(), {result.path}, options.version));
  const FileEntry& entry = entries.front();
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  fs::path target =
      options.local.empty() ? fs::path(BaseName(result.path)) : fs::path(options.local);
  std::error_code ec;
  if (fs::is_directory(target, ec)) target /= BaseName(result.path);
  result.target = target;
  auto size = apps::files::ContentSize(store, hub_key, entry.content, entry.wrapped_key);
  std::optional<uint64_t> known_size;
  if (size.ok()) known_size = *size;
  result.size = known_size.value_or(0);
  NB_ASSIGN_OR_RETURN(LocalState state, CompareLocal(store, hub_key, entry, known_size, target));
  if (state == LocalState::kSame) {
    result.unchanged = true;
    return result;
  }
  if (state == LocalState::kNotAFile) {
    return MakeError(ErrorCode::kInvalidArgument,
                     target.string() + " exists and is not a regular file; nothing was written");
  }
  if (state == LocalState::kDifferent && !options.force) {
    return MakeError(ErrorCode::kInvalidArgument, target.string() + " exists and differs from " +
                                                      result.path +
                                                      "; use --force to overwrite it");
  }
  if (progress != nullptr) progress->Begin(result.size, 1);
  Status written = WriteContentAtomically(store, hub_key, entry, target, progress,
                                          state == LocalState::kDifferent);
  if (progress != nullptr) progress->End();
  NB_RETURN_IF_ERROR(written);
  return result;
}

Result<ExportResult> ExportTree(FilesSession& session, const ExportOptions& options,
                                ProgressObserver* progress) {
  NB_ASSIGN_OR_RETURN(ChosenReading chosen, ChooseReading(session.reading(), options.at, NowMs()));
  const FilesReading& reading = chosen.reading();
  std::string base = NormalizeHubPath(options.path);
  if (!base.empty() && !reading.IsDirectory(base)) {
    if (reading.IsFile(base)) {
      return MakeError(ErrorCode::kInvalidArgument, base + " is a file (use `nearbytes get`)");
    }
    return MakeError(ErrorCode::kNotFound, "no such directory: " + base);
  }
  std::string prefix = base.empty() ? "" : base + "/";
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  struct ExportedFile {
    std::string rel;
    const FileEntry* entry;
    std::optional<uint64_t> size;  // nullopt: content not readable here
  };
  std::vector<ExportedFile> files;
  ExportResult result;
  result.at_label = chosen.at_label;
  for (auto it = reading.files().lower_bound(prefix);
       it != reading.files().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    auto size =
        apps::files::ContentSize(store, hub_key, it->second.content, it->second.wrapped_key);
    files.push_back(ExportedFile{it->first.substr(prefix.size()), &it->second,
                                 size.ok() ? std::optional<uint64_t>(*size) : std::nullopt});
    if (size.ok()) result.bytes += *size;
  }
  result.files = files.size();
  if (options.local.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "export needs a local directory to write to");
  }
  const fs::path& root = options.local;
  result.to = root;
  NB_RETURN_IF_ERROR(store::EnsureDirectory(root));
  for (const auto& dir : reading.Directories()) {
    if (dir.path.compare(0, prefix.size(), prefix) == 0 && dir.path.size() > prefix.size()) {
      Status made = store::EnsureDirectory(root / dir.path.substr(prefix.size()));
      if (!made.ok()) result.skipped.push_back(made.error().message);
    }
  }
  if (progress != nullptr) progress->Begin(result.bytes, files.size());
  // Files are written in batches (the durable writer's batch form): each
  // batch's temps are written unsynced, made durable by one sync of each
  // file system written, then renamed into place; one more sync makes the
  // names durable. No name ever shows bytes that were not durable first,
  // as with a sync per file, at two syncs per batch instead of two per file.
  std::map<dev_t, fs::path> file_systems;  // one directory written on each
  std::set<fs::path> made;                 // parent directories known to exist
  auto sync_all = [&]() -> Status {
    for (const auto& [dev, dir] : file_systems) NB_RETURN_IF_ERROR(store::SyncFileSystemOf(dir));
    return Status::Ok();
  };
  // What happened to one file of a batch (decided on any thread).
  struct Outcome {
    std::optional<store::DurableFileWriter> writer;  // closed, unsynced
    std::string skipped;                             // why not, if not
    bool unchanged = false, differing = false;
  };
  auto prepare = [&](const ExportedFile& file, const fs::path& target) {
    Outcome out;
    auto state = CompareLocal(store, hub_key, *file.entry, file.size, target);
    if (!state.ok()) {
      out.skipped = target.string() + ": " + state.error().message;
    } else if (*state == LocalState::kSame) {
      out.unchanged = true;
    } else if (*state == LocalState::kNotAFile) {
      out.skipped = target.string() + ": exists and is not a regular file";
    } else if (*state == LocalState::kDifferent && !options.force) {
      out.skipped = target.string() + ": exists and differs (use --force to overwrite)";
      out.differing = true;
    } else {
      auto written = WriteContentToTemp(store, hub_key, *file.entry, target, nullptr,
                                        *state == LocalState::kDifferent);
      Status closed = written.ok() ? written->CloseUnsynced() : Status(written.error());
      if (closed.ok()) {
        out.writer.emplace(std::move(*written));
      } else {
        out.skipped = closed.error().message;
      }
    }
    return out;
  };
  size_t next = 0;
  while (next < files.size()) {
    // A batch: its files' directories made here, their content written to
    // temps on every core, then synced and named in order.
    std::vector<std::pair<const ExportedFile*, fs::path>> batch;
    uint64_t batch_bytes = 0;
    for (;
         next < files.size() && batch.size() < kExportBatchFiles && batch_bytes < kExportBatchBytes;
         ++next) {
      const ExportedFile& file = files[next];
      fs::path target = root / file.rel;
      fs::path parent = target.parent_path();
      if (!made.count(parent)) {
        Status ready = store::EnsureDirectory(parent);
        struct stat st;
        if (ready.ok() && ::stat(parent.c_str(), &st) != 0) {
          ready = MakeError(ErrorCode::kIo,
                            "cannot read " + parent.string() + ": " + store::ErrnoText(errno));
        }
        if (!ready.ok()) {
          if (progress != nullptr) progress->AddFiles(1);
          result.skipped.push_back(target.string() + ": " + ready.error().message);
          continue;
        }
        file_systems.emplace(st.st_dev, parent);
        made.insert(parent);
      }
      batch_bytes += file.size.value_or(0);
      batch.emplace_back(&file, std::move(target));
    }
    std::vector<Outcome> outcomes(batch.size());
    ParallelFor(batch.size(), 0,
                [&](size_t i) { outcomes[i] = prepare(*batch[i].first, batch[i].second); });
    bool any = false;
    for (size_t i = 0; i < batch.size(); ++i) {
      Outcome& out = outcomes[i];
      if (progress != nullptr) {
        progress->AddFiles(1);
        if (out.writer) progress->AddBytes(out.writer->bytes_written());
      }
      if (out.unchanged) ++result.unchanged;
      if (out.differing) ++result.differing;
      if (!out.skipped.empty()) result.skipped.push_back(std::move(out.skipped));
      any = any || out.writer.has_value();
    }
    if (!any) continue;
    NB_RETURN_IF_ERROR(sync_all());
    for (auto& out : outcomes) {
      if (!out.writer) continue;
      Status published = out.writer->PublishSynced();
      if (published.ok()) {
        ++result.written;
      } else {
        result.skipped.push_back(published.error().message);
      }
    }
  }
  if (result.written > 0) NB_RETURN_IF_ERROR(sync_all());
  if (progress != nullptr) progress->End();
  return result;
}

}  // namespace nb::engine
