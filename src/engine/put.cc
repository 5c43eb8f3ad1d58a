#include "engine/put.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "apps/canonical_json.h"
#include "apps/files/file_content.h"
#include "engine/hub_paths.h"
#include "engine/put_cache.h"

namespace nb::engine {
namespace {

using apps::files::FilesReading;
namespace fs = std::filesystem;

apps::files::FileStamp StampOf(const struct stat& st) {
  apps::files::FileStamp stamp;
  stamp.regular = S_ISREG(st.st_mode);
  stamp.dev = st.st_dev;
  stamp.ino = st.st_ino;
  stamp.size = static_cast<uint64_t>(st.st_size);
  stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  stamp.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return stamp;
}

Status PlanTree(const fs::path& root, const std::string& hub_root, PutPlan& plan) {
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) return MakeError(ErrorCode::kIo, "cannot read " + root.string() + ": " + ec.message());
  std::vector<std::string> dirs{hub_root};
  std::set<std::string> non_empty;
  for (fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return MakeError(ErrorCode::kIo, "cannot read " + root.string() + ": " + ec.message());
    fs::path rel = it->path().lexically_relative(root);
    std::string hub_path = JoinHubPath(hub_root, rel.generic_string());
    // One lstat gives both the kind and the size.
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // removed since the directory was read
      return MakeError(ErrorCode::kIo,
                       "cannot read " + it->path().string() + ": " + std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
      plan.skipped.push_back(it->path().string() + " (symbolic link)");
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      dirs.push_back(hub_path);
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      plan.skipped.push_back(it->path().string() + " (not a regular file)");
      continue;
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    plan.files.push_back(PutItem{it->path().string(), hub_path, size, StampOf(st)});
    plan.total_bytes += size;
    for (size_t slash = hub_path.rfind('/'); slash != std::string::npos;
         slash = hub_path.rfind('/', slash - 1)) {
      if (!non_empty.insert(hub_path.substr(0, slash)).second || slash == 0) break;
    }
  }
  for (const auto& dir : dirs) {
    if (!dir.empty() && !non_empty.count(dir)) {
      // A directory is empty if no file lies under it and no other directory does.
      bool has_child_dir = std::any_of(dirs.begin(), dirs.end(), [&](const std::string& d) {
        return d.size() > dir.size() && d.compare(0, dir.size(), dir) == 0 && d[dir.size()] == '/';
      });
      if (!has_child_dir) plan.empty_dirs.push_back(dir);
    }
  }
  return Status::Ok();
}

// A name that is not text, shown so the user can find it: bytes outside
// printable ASCII as \xNN.
std::string EscapeBytes(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string DisplayLocal(const std::string& local) {
  return local == "-" ? "standard input" : local;
}

// Refuses, before anything is written, a plan that would store two sources
// under one hub path, make one path both a file and a directory, or write
// below a live file (which would silently replace that file).
Status CheckPlan(const PutPlan& plan, const FilesReading& reading) {
  std::map<std::string, const PutItem*> by_path;
  for (const auto& item : plan.files) {
    auto [it, inserted] = by_path.emplace(item.hub_path, &item);
    if (!inserted) {
      return MakeError(ErrorCode::kInvalidArgument,
                       DisplayLocal(it->second->local) + " and " + DisplayLocal(item.local) +
                           " would both be stored as " + item.hub_path + "; nothing was written");
    }
  }
  auto check_ancestors = [&](const std::string& path, const std::string& what) -> Status {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string ancestor = path.substr(0, slash);
      if (reading.IsFile(ancestor)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "a file exists at " + ancestor + " (cannot put " + what + " below it)");
      }
      if (auto planned = by_path.find(ancestor); planned != by_path.end()) {
        return MakeError(ErrorCode::kInvalidArgument, ancestor + " would be both a file (" +
                                                          DisplayLocal(planned->second->local) +
                                                          ") and a directory; nothing was written");
      }
    }
    return Status::Ok();
  };
  for (const auto& item : plan.files) {
    NB_RETURN_IF_ERROR(check_ancestors(item.hub_path, DisplayLocal(item.local)));
    if (reading.IsDirectory(item.hub_path)) {
      return MakeError(ErrorCode::kInvalidArgument, "a directory exists at " + item.hub_path +
                                                        " (cannot put " + DisplayLocal(item.local) +
                                                        " there; use --to " + item.hub_path + "/)");
    }
  }
  for (const auto& dir : plan.empty_dirs) {
    NB_RETURN_IF_ERROR(check_ancestors(dir, "a directory"));
    if (reading.IsFile(dir))
      return MakeError(ErrorCode::kInvalidArgument, "a file exists at " + dir);
  }
  return Status::Ok();
}

}  // namespace

Result<PutPlan> PlanPut(const FilesReading& reading, const std::vector<std::string>& sources,
                        const std::string& to_raw) {
  std::string to = NormalizeHubPath(to_raw);
  bool to_is_dir =
      to.empty() || reading.IsDirectory(to) || to_raw.ends_with("/") || sources.size() > 1;
  PutPlan plan;
  for (const auto& source : sources) {
    if (source == "-") {
      if (to.empty() || to_is_dir) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "reading stdin needs a file name: put - --to DIR/NAME");
      }
      plan.files.push_back(PutItem{"-", to, 0});
      continue;
    }
    std::error_code ec;
    auto status = fs::status(source, ec);
    if (ec || !fs::exists(status)) {
      return MakeError(ErrorCode::kNotFound, "no such file or directory: " + source);
    }
    std::string name = fs::path(source).lexically_normal().filename().string();
    if (name.empty()) name = fs::absolute(source).lexically_normal().parent_path().filename();
    if (fs::is_directory(status)) {
      std::string hub_root = to_is_dir ? JoinHubPath(to, name) : to;
      NB_RETURN_IF_ERROR(PlanTree(source, hub_root, plan));
    } else if (fs::is_regular_file(status)) {
      std::string hub_path = to_is_dir ? JoinHubPath(to, name) : to;
      struct stat st;
      if (::stat(source.c_str(), &st) != 0) {
        return MakeError(ErrorCode::kIo, "cannot read " + source + ": " + std::strerror(errno));
      }
      uint64_t size = static_cast<uint64_t>(st.st_size);
      plan.files.push_back(PutItem{source, hub_path, size, StampOf(st)});
      plan.total_bytes += size;
    } else {
      return MakeError(ErrorCode::kInvalidArgument, source + " is not a regular file");
    }
  }
  // Before anything is stored: the reading would not use an event beyond its limits.
  for (const auto& item : plan.files) {
    if (!apps::IsValidUtf8(item.hub_path)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cannot store " + EscapeBytes(item.local) +
                           ": its name is not valid UTF-8 (hub paths are text); rename it first");
    }
    if (auto problem = apps::files::HubPathProblem(item.hub_path)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cannot store " + item.local + " as \"" +
                           apps::files::ShortPathForMessage(item.hub_path) + "\": " + *problem);
    }
  }
  for (const auto& dir : plan.empty_dirs) {
    if (auto problem = apps::files::HubPathProblem(dir)) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          "cannot store the folder \"" + apps::files::ShortPathForMessage(dir) + "\": " + *problem);
    }
  }
  NB_RETURN_IF_ERROR(CheckPlan(plan, reading));
  return plan;
}

namespace {

// A put publishes its files in slices: the blocks of a slice, then its
// events, before the next slice is read. Peers (a running daemon watches the
// channel) start fetching the first files while the rest is still being
// encrypted, and a put that fails half-way keeps what it finished. Each slice
// costs two syncs, so slices are large enough that this stays small.
constexpr size_t kSliceFiles = 1024;
constexpr uint64_t kSliceBytes = 64ull << 20;

// The end of the slice that starts at `begin`: at least one file.
size_t SliceEnd(const PutPlan& plan, size_t begin) {
  size_t end = begin;
  uint64_t bytes = 0;
  while (end < plan.files.size() && end - begin < kSliceFiles &&
         (end == begin || bytes + plan.files[end].size <= kSliceBytes)) {
    bytes += plan.files[end].size;
    ++end;
  }
  return end;
}

}  // namespace

Result<PutResult> StorePut(FilesSession& session, const PutPlan& plan, ProgressObserver* progress) {
  auto start = std::chrono::steady_clock::now();
  apps::files::FilesWriter& writer = *session.writer;
  if (progress != nullptr) progress->Begin(plan.total_bytes, plan.files.size());
  apps::files::Ingestor ingestor(session.hub->store(), session.hub->keys().symmetric_key(),
                                 /*threads=*/0,
                                 session.settings.reference_compatible
                                     ? apps::files::ContentLayout::kSingleBlock
                                     : apps::files::ContentLayout::kChunked);
  const auto& hub_key = session.hub->keys().symmetric_key();
  crypto::SymmetricKey fek = apps::files::DedupFileKey(hub_key);
  const auto layout = session.settings.reference_compatible
                          ? apps::files::ContentLayout::kSingleBlock
                          : apps::files::ContentLayout::kChunked;
  // A put of a few files reads them faster than it would load and rewrite
  // the cache of a whole tree: the cache serves trees.
  constexpr size_t kCacheFromFiles = 64;
  PutCache cache = plan.files.size() < kCacheFromFiles
                       ? PutCache()
                       : PutCache::Load(PutCachePath(session.hub->store().primary().state_dir(),
                                                     session.hub->id()),
                                        session.hub->id(), layout);
  std::error_code cwd_error;
  const fs::path cwd = fs::current_path(cwd_error);
  // The cache's key: the file's absolute path (no system call per file).
  auto cache_key = [&](const PutItem& item) -> std::string {
    if (item.local == "-" || !item.stamp || !item.stamp->regular) return {};
    fs::path local(item.local);
    if (local.is_relative()) {
      if (cwd_error) return {};
      local = cwd / local;
    }
    return local.lexically_normal().string();
  };
  // A file the cache remembers with this very stamp, whose remembered
  // content is what the hub's live file there already is, is unchanged
  // without being read.
  auto known_unchanged = [&](const PutItem& item, const std::string& key) {
    if (key.empty()) return false;
    auto ref = cache.Find(key, *item.stamp);
    if (!ref) return false;
    auto existing = writer.reading().files().find(item.hub_path);
    return existing != writer.reading().files().end() && existing->second.content == *ref &&
           writer.reading().ConflictingEvents(item.hub_path).empty();
  };
  PutResult result;
  uint64_t bytes_before_slice = 0;
  size_t committed_files = 0;
  // Says what is already stored when a later slice fails.
  auto failed = [&](const Error& error) -> Error {
    if (committed_files == 0) return error;
    return MakeError(error.code, error.message + " (" + std::to_string(committed_files) + " of " +
                                     std::to_string(plan.files.size()) +
                                     " files were stored before this)");
  };
  for (size_t begin = 0; begin < plan.files.size() || begin == 0;) {
    const size_t end = SliceEnd(plan, begin);
    std::vector<apps::files::Ingestor::Source> ingest_sources;
    std::vector<std::string> keys(end - begin);
    std::vector<std::optional<size_t>> ingested_as(end - begin);  // nullopt: known unchanged
    uint64_t slice_bytes = 0;
    for (size_t i = begin; i < end; ++i) {
      keys[i - begin] = cache_key(plan.files[i]);
      if (!known_unchanged(plan.files[i], keys[i - begin])) {
        ingested_as[i - begin] = ingest_sources.size();
        ingest_sources.push_back(apps::files::Ingestor::Source{plan.files[i].local});
      }
      slice_bytes += plan.files[i].size;
    }
    auto stored = ingestor.IngestAll(ingest_sources, [&](uint64_t bytes) {
      if (progress != nullptr) progress->SetBytes(bytes_before_slice + bytes);
    });
    if (!stored.ok()) {
      if (progress != nullptr) progress->End();
      return failed(stored.error());
    }
    bytes_before_slice += slice_bytes;
    if (progress != nullptr) progress->SetBytes(bytes_before_slice);  // files not read count too

    writer.BeginBatch();
    for (size_t i = begin; i < end; ++i) {
      const auto& item = plan.files[i];
      if (!ingested_as[i - begin]) {
        result.bytes += item.size;
        ++result.unchanged;
        ++result.unchanged_unread;
        result.files.push_back(PutFile{item.hub_path, item.size, true, std::nullopt});
        continue;
      }
      const auto& content = (*stored)[*ingested_as[i - begin]];
      if (content.settled_stamp && !keys[i - begin].empty()) {
        cache.Remember(keys[i - begin], *content.settled_stamp, content.ref);
      }
      result.new_blocks += content.new_blocks;
      result.new_bytes += content.new_bytes;
      if (content.changed_while_reading) {
        result.changed_while_reading.push_back(item.local);
        continue;
      }
      result.bytes += content.size;
      // Unchanged: the same content is live there and nobody disagrees about it.
      auto existing = writer.reading().files().find(item.hub_path);
      bool same = existing != writer.reading().files().end() &&
                  existing->second.content.hash == content.ref.hash &&
                  writer.reading().ConflictingEvents(item.hub_path).empty();
      PutFile file{item.hub_path, content.size, same, std::nullopt};
      if (same) {
        ++result.unchanged;
      } else {
        auto event =
            writer.CreateFile(item.hub_path, content.ref, apps::files::WrapFileKey(hub_key, fek),
                              apps::files::GuessMimeType(item.hub_path));
        if (!event.ok()) {
          if (progress != nullptr) progress->End();
          return failed(event.error());
        }
        file.event = *event;
        ++result.written;
      }
      result.files.push_back(std::move(file));
    }
    const bool last = end >= plan.files.size();
    if (last) {
      for (const auto& dir : plan.empty_dirs) {
        if (writer.reading().IsDirectory(dir) && writer.reading().explicit_dirs().count(dir)) {
          continue;
        }
        if (auto made = writer.Mkdir(dir); !made.ok()) {
          if (progress != nullptr) progress->End();
          return failed(made.error());
        }
      }
    }
    if (auto committed = writer.CommitBatch(); !committed.ok()) {
      if (progress != nullptr) progress->End();
      return failed(committed.error());
    }
    committed_files = result.written;
    if (last) break;
    begin = end;
  }
  if (progress != nullptr) progress->End();
  // Derived state: a cache that cannot be written only makes the next put
  // read everything again; this put has succeeded.
  (void)cache.Save();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace nb::engine
