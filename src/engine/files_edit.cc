#include "engine/files_edit.h"

#include "apps/files/content_check.h"
#include "apps/files/file_content.h"
#include "apps/files/files_at.h"
#include "engine/hub_paths.h"

namespace nb::engine {

using apps::files::FileEntry;
using apps::files::FilesReading;
using apps::files::FilesWriter;

Result<std::optional<PathEvent>> MakeDirectory(FilesSession& session, const std::string& raw,
                                               bool parents) {
  std::string path = NormalizeHubPath(raw);
  if (session.reading().IsDirectory(path)) {
    if (parents) return std::optional<PathEvent>();
    return MakeError(ErrorCode::kInvalidArgument, "directory exists: " + path);
  }
  NB_ASSIGN_OR_RETURN(crypto::Hash256 event, session.writer->Mkdir(path));
  return std::optional<PathEvent>(PathEvent{path, event});
}

Result<Move> MovePath(FilesSession& session, const std::string& from_raw,
                      const std::string& to_raw) {
  std::string from = NormalizeHubPath(from_raw);
  std::string to = NormalizeHubPath(to_raw);
  // Like mv: moving onto an existing directory moves into it.
  if (session.reading().IsDirectory(to)) to = JoinHubPath(to, BaseName(from));
  NB_ASSIGN_OR_RETURN(crypto::Hash256 event, session.writer->Rename(from, to));
  return Move{from, to, event};
}

Result<std::vector<PathEvent>> RemovePaths(FilesSession& session,
                                           const std::vector<std::string>& paths, bool recursive) {
  std::vector<PathEvent> out;
  for (const auto& raw : paths) {
    std::string path = NormalizeHubPath(raw);
    NB_ASSIGN_OR_RETURN(crypto::Hash256 event, session.writer->Remove(path, recursive));
    out.push_back(PathEvent{path, event});
  }
  return out;
}

Result<RestoreResult> RestorePath(FilesSession& session, const std::string& raw,
                                  const std::string& at) {
  FilesWriter& writer = *session.writer;
  const FilesReading& live = writer.reading();
  std::string path = NormalizeHubPath(raw);
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, "restore needs a hub path");
  std::optional<FilesReading> past;
  std::string when;
  if (!at.empty()) {
    NB_ASSIGN_OR_RETURN(ChosenReading chosen, ChooseReading(live, at, NowMs()));
    past = std::move(chosen.past);
    when = "at " + chosen.at_label;
  } else {
    // Without --at, restore undoes a removal: a path that is live now (even
    // one removed once and written again) is left alone.
    if (live.IsFile(path) || live.IsDirectory(path)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path +
                           " exists now; to bring back an older state use --at EVENT|TIME "
                           "(see `nearbytes history " +
                           path + "`)");
    }
    NB_ASSIGN_OR_RETURN(past, apps::files::ReadingBeforeRemoval(live, path));
    if (!past) {
      return MakeError(ErrorCode::kNotFound, "no such file or directory in the history: " + path);
    }
    when = "before it was removed";
  }
  if (!past->IsFile(path) && !past->IsDirectory(path)) {
    return MakeError(ErrorCode::kNotFound, path + " did not exist " + when);
  }
  // Every file under `path` then that is missing or different now.
  std::vector<std::pair<std::string, FileEntry>> files;
  if (past->IsFile(path)) {
    files.emplace_back(path, past->files().at(path));
  } else {
    std::string prefix = path + "/";
    for (auto it = past->files().lower_bound(prefix);
         it != past->files().end() && it->first.starts_with(prefix); ++it) {
      files.emplace_back(it->first, it->second);
    }
  }
  writer.BeginBatch();
  RestoreResult result{path, when, 0, 0, {}};
  for (const auto& [file_path, entry] : files) {
    auto now = live.files().find(file_path);
    if (now != live.files().end() && now->second.content.hash == entry.content.hash) {
      ++result.unchanged;
      continue;
    }
    NB_RETURN_IF_ERROR(
        writer.CreateFile(file_path, entry.content, entry.wrapped_key, entry.mime_type));
    ++result.restored;
    auto presence =
        apps::files::CheckContentPresence(session.hub->store(), session.hub->keys().symmetric_key(),
                                          entry.content, entry.wrapped_key);
    if (!presence.complete()) result.incomplete.push_back(file_path);
  }
  if (past->IsDirectory(path)) {
    for (const auto& dir : past->explicit_dirs()) {
      if ((dir == path || dir.starts_with(path + "/")) && !writer.reading().IsDirectory(dir)) {
        NB_RETURN_IF_ERROR(writer.Mkdir(dir));
      }
    }
  }
  NB_RETURN_IF_ERROR(writer.CommitBatch());
  return result;
}

Result<std::vector<PathVersion>> PathHistory(FilesSession& session, const std::string& raw) {
  const FilesReading& reading = session.reading();
  std::string path = NormalizeHubPath(raw);
  auto versions = reading.History(path);
  if (path.empty()) return MakeError(ErrorCode::kInvalidArgument, "history needs a hub path");
  if (versions.empty()) return MakeError(ErrorCode::kNotFound, "no history for " + path);
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  auto live = reading.files().find(path);
  std::vector<PathVersion> out;
  for (const auto& v : versions) {
    PathVersion item;
    item.event = v.event;
    item.type = apps::files::FileOpName(v.op);
    item.time = v.timestamp;
    item.path = v.path;
    if (v.op == apps::files::FileOp::kRename) item.to_path = v.to_path;
    if (v.content) {
      auto size = apps::files::ContentSize(store, hub_key, *v.content, v.wrapped_key);
      if (size.ok()) item.size = *size;
      item.content = v.content->hash;
      item.live = live != reading.files().end() && live->second.origin_event == v.event;
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace nb::engine
