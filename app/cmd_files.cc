// The files commands: put, mkdir, mv, rm, ls, get, export, history, conflicts.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iostream>

#include "apps/files/file_content.h"
#include "apps/files/files_writer.h"
#include "cli.h"
#include "progress.h"
#include "store/file_io.h"

namespace nb::cli {
namespace {

using apps::files::ContentRef;
using apps::files::FileEntry;
using apps::files::FilesReading;
using apps::files::FilesWriter;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

// Hub paths typed by a user: "/docs/a.txt", "docs/a.txt/" and "docs//a" all
// mean docs/a.txt; "" and "/" mean the root.
std::string NormalizeHubPath(std::string_view input) {
  std::string out;
  size_t i = 0;
  while (i < input.size()) {
    while (i < input.size() && input[i] == '/') ++i;
    size_t end = input.find('/', i);
    if (end == std::string_view::npos) end = input.size();
    if (end > i) {
      if (!out.empty()) out += '/';
      out.append(input.substr(i, end - i));
    }
    i = end;
  }
  return out;
}

std::string JoinHubPath(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string FormatTime(int64_t ms) {
  time_t seconds = static_cast<time_t>(ms / 1000);
  struct tm tm_local;
  localtime_r(&seconds, &tm_local);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm_local);
  return buf;
}

struct FilesSession {
  hub::Hub* hub = nullptr;
  std::unique_ptr<FilesWriter> writer;
};

Result<FilesSession> OpenFiles(Context& ctx) {
  FilesSession session;
  NB_ASSIGN_OR_RETURN(session.hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(session.writer, FilesWriter::Load(*session.hub));
  ctx.ReportIncidents();
  return session;
}

// ---- put ----

struct PutItem {
  std::string local;  // "-" for stdin
  std::string hub_path;
  uint64_t size = 0;
};

struct PutPlan {
  std::vector<PutItem> files;
  std::vector<std::string> empty_dirs;  // hub paths of empty local directories
  std::vector<std::string> skipped;     // symlinks, sockets...
  uint64_t total_bytes = 0;
};

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
    auto status = it->symlink_status(ec);
    if (fs::is_symlink(status)) {
      plan.skipped.push_back(it->path().string() + " (symbolic link)");
      continue;
    }
    if (fs::is_directory(status)) {
      dirs.push_back(hub_path);
      continue;
    }
    if (!fs::is_regular_file(status)) {
      plan.skipped.push_back(it->path().string() + " (not a regular file)");
      continue;
    }
    uint64_t size = it->file_size(ec);
    plan.files.push_back(PutItem{it->path().string(), hub_path, size});
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

Result<int> Put(Context& ctx, const std::vector<std::string>& sources, const std::string& to_raw) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  FilesWriter& writer = *session.writer;
  std::string to = NormalizeHubPath(to_raw);
  bool to_is_dir =
      to.empty() || writer.reading().IsDirectory(to) || to_raw.ends_with("/") || sources.size() > 1;

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
      uint64_t size = fs::file_size(source, ec);
      plan.files.push_back(PutItem{source, hub_path, size});
      plan.total_bytes += size;
    } else {
      return MakeError(ErrorCode::kInvalidArgument, source + " is not a regular file");
    }
  }
  // Before anything is stored: the reading would not use an event beyond its limits.
  for (const auto& item : plan.files) {
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

  std::vector<apps::files::Ingestor::Source> ingest_sources;
  for (const auto& item : plan.files) {
    ingest_sources.push_back(apps::files::Ingestor::Source{item.local});
  }
  Progress progress("put", plan.total_bytes, plan.files.size(), !ctx.options.quiet);
  apps::files::Ingestor ingestor(session.hub->store(), session.hub->keys().symmetric_key());
  auto stored =
      ingestor.IngestAll(ingest_sources, [&](uint64_t bytes) { progress.SetBytes(bytes); });
  progress.Finish();
  if (!stored.ok()) return stored.error();

  const auto& hub_key = session.hub->keys().symmetric_key();
  crypto::SymmetricKey fek = apps::files::DedupFileKey(hub_key);
  writer.BeginBatch();
  size_t written = 0, unchanged = 0;
  uint64_t new_blocks = 0, new_bytes = 0, bytes = 0;
  Json items = Json::array();
  for (size_t i = 0; i < plan.files.size(); ++i) {
    const auto& item = plan.files[i];
    const auto& content = (*stored)[i];
    new_blocks += content.new_blocks;
    new_bytes += content.new_bytes;
    bytes += content.size;
    auto existing = writer.reading().files().find(item.hub_path);
    bool same = existing != writer.reading().files().end() &&
                existing->second.content.hash == content.ref.hash &&
                writer.reading().ConflictingEvents(item.hub_path).empty();
    std::string event_hex;
    if (same) {
      ++unchanged;
    } else {
      NB_ASSIGN_OR_RETURN(
          crypto::Hash256 event,
          writer.CreateFile(item.hub_path, content.ref, apps::files::WrapFileKey(hub_key, fek),
                            apps::files::GuessMimeType(item.hub_path)));
      event_hex = event.Hex();
      ++written;
    }
    if (ctx.options.json) {
      Json entry{{"path", item.hub_path}, {"size", content.size}, {"unchanged", same}};
      if (!same) entry["event"] = event_hex;
      items.push_back(std::move(entry));
    }
  }
  for (const auto& dir : plan.empty_dirs) {
    if (writer.reading().IsDirectory(dir) && writer.reading().explicit_dirs().count(dir)) {
      continue;
    }
    NB_RETURN_IF_ERROR(writer.Mkdir(dir));
  }
  NB_RETURN_IF_ERROR(writer.CommitBatch());
  double seconds = progress.ElapsedSeconds();
  for (const auto& skipped : plan.skipped) std::cerr << "nearbytes: skipped " << skipped << "\n";
  if (ctx.options.json) {
    PrintJson(Json{{"files", items},
                   {"written", written},
                   {"unchanged", unchanged},
                   {"bytes", bytes},
                   {"newBlocks", new_blocks},
                   {"newBytes", new_bytes},
                   {"seconds", seconds}});
  } else if (!ctx.options.quiet) {
    std::cout << "put " << written << " file(s)";
    if (unchanged > 0) std::cout << " (" << unchanged << " unchanged)";
    std::cout << ", " << HumanBytes(bytes) << " in " << HumanDuration(seconds);
    if (seconds > 0) std::cout << " (" << HumanRate(static_cast<double>(bytes) / seconds) << ")";
    std::cout << "; stored " << new_blocks << " new block(s), " << HumanBytes(new_bytes) << "\n";
  }
  return 0;
}

// ---- simple edits ----

Result<int> Mkdir(Context& ctx, const std::string& raw, bool parents) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  std::string path = NormalizeHubPath(raw);
  if (session.writer->reading().IsDirectory(path)) {
    if (parents) return 0;
    return MakeError(ErrorCode::kInvalidArgument, "directory exists: " + path);
  }
  NB_ASSIGN_OR_RETURN(crypto::Hash256 event, session.writer->Mkdir(path));
  if (ctx.options.json) PrintJson(Json{{"path", path}, {"event", event.Hex()}});
  return 0;
}

Result<int> Move(Context& ctx, const std::string& from_raw, const std::string& to_raw) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  std::string from = NormalizeHubPath(from_raw);
  std::string to = NormalizeHubPath(to_raw);
  // Like mv: moving onto an existing directory moves into it.
  if (session.writer->reading().IsDirectory(to)) to = JoinHubPath(to, BaseName(from));
  NB_ASSIGN_OR_RETURN(crypto::Hash256 event, session.writer->Rename(from, to));
  if (ctx.options.json) PrintJson(Json{{"from", from}, {"to", to}, {"event", event.Hex()}});
  return 0;
}

Result<int> Remove(Context& ctx, const std::vector<std::string>& paths, bool recursive) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  Json events = Json::array();
  for (const auto& raw : paths) {
    std::string path = NormalizeHubPath(raw);
    NB_ASSIGN_OR_RETURN(crypto::Hash256 event, session.writer->Remove(path, recursive));
    events.push_back(Json{{"path", path}, {"event", event.Hex()}});
  }
  if (ctx.options.json) PrintJson(events);
  return 0;
}

// ---- ls ----

struct ListedEntry {
  std::string path;
  bool dir = false;
  bool explicit_dir = false;
  uint64_t size = 0;
  int64_t modified = 0;
  bool conflict = false;
  const FileEntry* file = nullptr;
};

Result<int> List(Context& ctx, const std::string& raw, bool recursive) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  const FilesReading& reading = session.writer->reading();
  std::string base = NormalizeHubPath(raw);
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  std::set<std::string> conflicted;
  for (const auto& c : reading.conflicts()) conflicted.insert(c.path);

  std::vector<ListedEntry> entries;
  auto add_file = [&](const std::string& path, const FileEntry& entry) {
    ListedEntry e{path, false, false, 0, entry.modified_ms, conflicted.count(path) > 0, &entry};
    auto size = apps::files::ContentSize(store, hub_key, entry.content, entry.wrapped_key);
    e.size = size.ok() ? *size : 0;
    entries.push_back(std::move(e));
  };
  if (!base.empty() && reading.IsFile(base)) {
    add_file(base, reading.files().at(base));
  } else {
    if (!base.empty() && !reading.IsDirectory(base)) {
      return MakeError(ErrorCode::kNotFound, "no such file or directory: " + base);
    }
    std::string prefix = base.empty() ? "" : base + "/";
    auto in_scope = [&](const std::string& path) {
      if (path.compare(0, prefix.size(), prefix) != 0 || path.size() == prefix.size()) {
        return false;
      }
      return recursive || path.find('/', prefix.size()) == std::string::npos;
    };
    for (const auto& dir : reading.Directories()) {
      if (in_scope(dir.path)) {
        entries.push_back(ListedEntry{dir.path, true, dir.explicit_dir, 0, 0,
                                      conflicted.count(dir.path) > 0, nullptr});
      }
    }
    for (auto it = reading.files().lower_bound(prefix);
         it != reading.files().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (in_scope(it->first)) add_file(it->first, it->second);
    }
    std::sort(entries.begin(), entries.end(),
              [](const ListedEntry& a, const ListedEntry& b) { return a.path < b.path; });
  }

  if (ctx.options.json) {
    Json out = Json::array();
    for (const auto& e : entries) {
      Json item{{"path", e.path}, {"type", e.dir ? "directory" : "file"}};
      if (e.dir) {
        item["explicit"] = e.explicit_dir;
      } else {
        item["size"] = e.size;
        item["modified"] = e.modified;
        item["content"] = e.file->content.hash.Hex();
        item["chunked"] = e.file->content.kind == ContentRef::Kind::kManifest;
        item["origin"] = e.file->origin_event.Hex();
        if (e.file->mime_type) item["mimeType"] = *e.file->mime_type;
      }
      item["conflict"] = e.conflict;
      out.push_back(std::move(item));
    }
    PrintJson(out);
    return 0;
  }
  for (const auto& e : entries) {
    std::string name = recursive || base.empty() ? e.path : e.path.substr(base.size() + 1);
    if (base == e.path) name = e.path;
    char line[64];
    if (e.dir) {
      std::snprintf(line, sizeof(line), "%-4s %10s  %16s  ", "dir", "-", "");
      name += "/";
    } else {
      std::snprintf(line, sizeof(line), "%-4s %10s  %16s  ", "file", HumanBytes(e.size).c_str(),
                    FormatTime(e.modified).c_str());
    }
    std::cout << line << name << (e.conflict ? "   [conflict]" : "") << "\n";
  }
  return 0;
}

// ---- get / export ----

// Writes content to `target` through a temp file in the same directory, so
// an interrupted get never leaves a partial file under the final name.
Status WriteContentAtomically(store::Store& store, const crypto::SymmetricKey& hub_key,
                              const FileEntry& entry, const fs::path& target, Progress* progress) {
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string temp_name =
      ".nearbytes-get-" + std::to_string(::getpid()) + "-" + target.filename().string();
  fs::path temp = dir / temp_name;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo,
                     "cannot write " + temp.string() + ": " + store::ErrnoText(errno));
  }
  Status status = apps::files::ReadContent(
      store, hub_key, entry.content, entry.wrapped_key, [&](ByteSpan data) -> Status {
        size_t done = 0;
        while (done < data.size()) {
          ssize_t n = ::write(fd, data.data() + done, data.size() - done);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            return MakeError(ErrorCode::kIo,
                             "cannot write " + target.string() + ": " + store::ErrnoText(errno));
          }
          done += static_cast<size_t>(n);
        }
        if (progress != nullptr) progress->AddBytes(data.size());
        return Status::Ok();
      });
  if (status.ok() && ::fsync(fd) != 0) {
    status = MakeError(ErrorCode::kIo, "cannot sync " + target.string());
  }
  if (::close(fd) != 0 && status.ok()) {
    status = MakeError(ErrorCode::kIo, "cannot close " + target.string());
  }
  if (status.ok()) {
    // Keep the hub's modification time on the local copy.
    timespec times[2];
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = static_cast<time_t>(entry.modified_ms / 1000);
    times[1].tv_nsec = static_cast<long>((entry.modified_ms % 1000) * 1000000);
    ::utimensat(AT_FDCWD, temp.c_str(), times, 0);
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      status = MakeError(ErrorCode::kIo,
                         "cannot create " + target.string() + ": " + store::ErrnoText(errno));
    }
  }
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

Status WriteContentToStdout(store::Store& store, const crypto::SymmetricKey& hub_key,
                            const FileEntry& entry) {
  return apps::files::ReadContent(
      store, hub_key, entry.content, entry.wrapped_key, [](ByteSpan data) -> Status {
        size_t done = 0;
        while (done < data.size()) {
          ssize_t n = ::write(STDOUT_FILENO, data.data() + done, data.size() - done);
          if (n < 0 && errno == EINTR) continue;
          if (n < 0) {
            return MakeError(ErrorCode::kIo, "cannot write to standard output");
          }
          done += static_cast<size_t>(n);
        }
        return Status::Ok();
      });
}

// The version a --version hash names: a CREATE_FILE event of this hub.
Result<FileEntry> VersionEntry(const FilesReading& reading, const std::string& hex) {
  auto hash = crypto::Hash256::FromHex(hex);
  if (!hash) return MakeError(ErrorCode::kInvalidArgument, "--version needs a 64-hex event hash");
  auto event = reading.FindEvent(*hash);
  if (!event || !event->files || event->files->op != apps::files::FileOp::kCreateFile ||
      !event->files->usable) {
    return MakeError(ErrorCode::kNotFound,
                     "no file version " + hex.substr(0, 16) + "... (see `nearbytes history PATH`)");
  }
  return FileEntry{*event->files->content, event->files->wrapped_key, event->timestamp,
                   event->files->mime_type, event->hash};
}

Result<int> Get(Context& ctx, const std::string& raw, const std::string& local,
                const std::string& version) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  const FilesReading& reading = session.writer->reading();
  std::string path = NormalizeHubPath(raw);
  FileEntry entry;
  if (!version.empty()) {
    NB_ASSIGN_OR_RETURN(entry, VersionEntry(reading, version));
  } else {
    auto it = reading.files().find(path);
    if (it == reading.files().end()) {
      if (reading.IsDirectory(path)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         path + " is a directory (use `nearbytes export " + path + " DIR`)");
      }
      return MakeError(ErrorCode::kNotFound, "no such file: " + path);
    }
    entry = it->second;
  }
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  if (local == "-") {
    NB_RETURN_IF_ERROR(WriteContentToStdout(store, hub_key, entry));
    return 0;
  }
  fs::path target = local.empty() ? fs::path(BaseName(path)) : fs::path(local);
  std::error_code ec;
  if (fs::is_directory(target, ec)) target /= BaseName(path);
  auto size = apps::files::ContentSize(store, hub_key, entry.content, entry.wrapped_key);
  Progress progress("get", size.ok() ? *size : 0, 1, !ctx.options.quiet);
  Status written = WriteContentAtomically(store, hub_key, entry, target, &progress);
  progress.Finish();
  ctx.ReportIncidents();
  NB_RETURN_IF_ERROR(written);
  if (ctx.options.json) {
    PrintJson(Json{{"path", path}, {"file", target.string()}, {"size", size.ok() ? *size : 0}});
  } else if (!ctx.options.quiet) {
    std::cout << "wrote " << target.string() << " (" << HumanBytes(size.ok() ? *size : 0) << ") in "
              << HumanDuration(progress.ElapsedSeconds()) << "\n";
  }
  return 0;
}

Result<int> Export(Context& ctx, const std::string& raw, const std::string& local) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  const FilesReading& reading = session.writer->reading();
  std::string base = NormalizeHubPath(raw);
  if (!base.empty() && !reading.IsDirectory(base)) {
    if (reading.IsFile(base)) {
      return MakeError(ErrorCode::kInvalidArgument, base + " is a file (use `nearbytes get`)");
    }
    return MakeError(ErrorCode::kNotFound, "no such directory: " + base);
  }
  std::string prefix = base.empty() ? "" : base + "/";
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  std::vector<std::pair<std::string, const FileEntry*>> files;
  uint64_t total = 0;
  for (auto it = reading.files().lower_bound(prefix);
       it != reading.files().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    files.emplace_back(it->first.substr(prefix.size()), &it->second);
    auto size =
        apps::files::ContentSize(store, hub_key, it->second.content, it->second.wrapped_key);
    if (size.ok()) total += *size;
  }
  fs::path root(local);
  NB_RETURN_IF_ERROR(store::EnsureDirectory(root));
  for (const auto& dir : reading.Directories()) {
    if (dir.path.compare(0, prefix.size(), prefix) == 0 && dir.path.size() > prefix.size()) {
      NB_RETURN_IF_ERROR(store::EnsureDirectory(root / dir.path.substr(prefix.size())));
    }
  }
  Progress progress("export", total, files.size(), !ctx.options.quiet);
  for (const auto& [rel, entry] : files) {
    fs::path target = root / rel;
    NB_RETURN_IF_ERROR(store::EnsureDirectory(target.parent_path()));
    Status written = WriteContentAtomically(store, hub_key, *entry, target, &progress);
    if (!written.ok()) {
      progress.Finish();
      return written.error();
    }
    progress.AddFiles(1);
  }
  progress.Finish();
  ctx.ReportIncidents();
  if (ctx.options.json) {
    PrintJson(Json{{"files", files.size()}, {"bytes", total}, {"to", root.string()}});
  } else if (!ctx.options.quiet) {
    std::cout << "exported " << files.size() << " file(s), " << HumanBytes(total) << " to "
              << root.string() << " in " << HumanDuration(progress.ElapsedSeconds()) << "\n";
  }
  return 0;
}

// ---- history / conflicts ----

Result<int> History(Context& ctx, const std::string& raw) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  const FilesReading& reading = session.writer->reading();
  std::string path = NormalizeHubPath(raw);
  auto versions = reading.History(path);
  if (versions.empty()) return MakeError(ErrorCode::kNotFound, "no history for " + path);
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  auto live = reading.files().find(path);
  Json out = Json::array();
  for (const auto& v : versions) {
    Json item{{"event", v.event.Hex()},
              {"type", apps::files::FileOpName(v.op)},
              {"time", v.timestamp},
              {"path", v.path}};
    if (v.op == apps::files::FileOp::kRename) item["toPath"] = v.to_path;
    if (v.content) {
      auto size = apps::files::ContentSize(store, hub_key, *v.content, v.wrapped_key);
      if (size.ok()) item["size"] = *size;
      item["content"] = v.content->hash.Hex();
      item["live"] = live != reading.files().end() && live->second.origin_event == v.event;
    }
    out.push_back(std::move(item));
  }
  if (ctx.options.json) {
    PrintJson(Json{{"path", path}, {"versions", out}});
    return 0;
  }
  for (const auto& item : out) {
    std::cout << item["event"].get<std::string>().substr(0, 16) << "  "
              << FormatTime(item["time"].get<int64_t>()) << "  " << std::left;
    std::string type = item["type"].get<std::string>();
    std::cout << type << std::string(12 - std::min<size_t>(type.size(), 11), ' ');
    if (item.contains("size")) {
      std::cout << HumanBytes(item["size"].get<uint64_t>());
      if (item["live"].get<bool>()) std::cout << "  (live)";
    } else if (type == "RENAME") {
      std::cout << item["path"].get<std::string>() << " -> " << item["toPath"].get<std::string>();
    }
    std::cout << "\n";
  }
  std::cout << "restore a version: nearbytes get --version EVENT " << path << " [LOCAL]\n";
  return 0;
}

Result<int> Conflicts(Context& ctx) {
  NB_ASSIGN_OR_RETURN(FilesSession session, OpenFiles(ctx));
  const FilesReading& reading = session.writer->reading();
  Json out = Json::array();
  for (const auto& c : reading.conflicts()) {
    Json others = Json::array();
    for (const auto& h : c.other_events) others.push_back(h.Hex());
    out.push_back(Json{{"path", c.path}, {"live", c.live_event.Hex()}, {"others", others}});
  }
  if (ctx.options.json) {
    PrintJson(out);
    return 0;
  }
  if (reading.conflicts().empty()) {
    std::cout << "no conflicts\n";
    return 0;
  }
  for (const auto& c : reading.conflicts()) {
    std::cout << c.path << "\n  live   " << c.live_event.Hex() << "\n";
    for (const auto& h : c.other_events) std::cout << "  other  " << h.Hex() << "\n";
  }
  std::cout << "read another version with: nearbytes get --version EVENT PATH [LOCAL]\n"
               "resolve by putting the version you want: nearbytes put FILE --to PATH\n";
  return 0;
}

}  // namespace

void RegisterFilesCommands(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> sources, paths;
    std::string to, from, target, path, local, version;
    bool recursive = false, parents = false;
  };
  auto args = std::make_shared<Args>();

  auto* put = app.add_subcommand("put",
                                 "Add files or whole directories to the hub "
                                 "(encrypted, deduplicated, versioned)");
  put->add_option("sources", args->sources, "Local files or directories; - reads stdin")
      ->required();
  put->add_option("--to", args->to,
                  "Hub directory to put them in (or the file name for one "
                  "file); default: the root");
  put->footer(
      "Examples:\n  nearbytes put photos/            # -> photos/... in the hub\n"
      "  nearbytes put report.pdf --to work/\n"
      "  pg_dump db | nearbytes put - --to backups/db.sql");
  SetCommand(put, [&ctx, args] { return Put(ctx, args->sources, args->to); });

  auto* mkdir = app.add_subcommand("mkdir", "Create a directory in the hub");
  mkdir->add_option("path", args->path, "Hub path")->required();
  mkdir->add_flag("-p,--parents", args->parents, "No error if it exists");
  SetCommand(mkdir, [&ctx, args] { return Mkdir(ctx, args->path, args->parents); });

  auto* mv = app.add_subcommand("mv", "Move or rename a file or directory in the hub");
  mv->add_option("from", args->from, "Hub path to move")->required();
  mv->add_option("to", args->target, "New hub path (or an existing directory to move into)")
      ->required();
  SetCommand(mv, [&ctx, args] { return Move(ctx, args->from, args->target); });

  auto* rm = app.add_subcommand("rm",
                                "Remove files or directories from the hub (old versions "
                                "stay in history)");
  rm->add_option("paths", args->paths, "Hub paths")->required();
  rm->add_flag("-r,--recursive", args->recursive, "Remove directories and their contents");
  SetCommand(rm, [&ctx, args] { return Remove(ctx, args->paths, args->recursive); });

  auto* ls = app.add_subcommand("ls",
                                "List the hub's files: type, size, modified time, "
                                "conflict marker");
  ls->add_option("path", args->path, "Hub directory or file (default: the root)");
  ls->add_flag("-r,--recursive", args->recursive, "List the whole subtree");
  SetCommand(ls, [&ctx, args] { return List(ctx, args->path, args->recursive); });

  auto* get = app.add_subcommand("get",
                                 "Copy a file out of the hub (verified, written "
                                 "atomically)");
  get->add_option("path", args->path, "Hub file")->required();
  get->add_option("local", args->local,
                  "Local file or directory; - for stdout "
                  "(default: the file's name here)");
  get->add_option("--version", args->version, "Event hash of an older version (see history)");
  SetCommand(get, [&ctx, args] { return Get(ctx, args->path, args->local, args->version); });

  auto* exp = app.add_subcommand("export",
                                 "Copy a hub directory (or the whole hub) to a "
                                 "local directory");
  exp->add_option("path", args->path, "Hub directory; \"\" or / for everything")->required();
  exp->add_option("local", args->local, "Local directory")->required();
  SetCommand(exp, [&ctx, args] { return Export(ctx, args->path, args->local); });

  auto* history = app.add_subcommand("history",
                                     "Every version of a path with its event hash, "
                                     "time and size");
  history->add_option("path", args->path, "Hub path")->required();
  SetCommand(history, [&ctx, args] { return History(ctx, args->path); });

  SetCommand(app.add_subcommand("conflicts",
                                "Paths two writers changed without seeing each "
                                "other, with the live and the other versions"),
             [&ctx] { return Conflicts(ctx); });
}

}  // namespace nb::cli
