#include "apps/files/files_writer.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "apps/files/reference_sharing.h"
#include "apps/hub_timeline.h"
#include "apps/state/files_projection.h"
#include "base/logging.h"

namespace nb::apps::files {
namespace {

using Json = nlohmann::ordered_json;

Result<std::string> Serialize(const Json& payload) {
  try {
    return payload.dump();
  } catch (const nlohmann::json::exception&) {
    return MakeError(ErrorCode::kInvalidArgument, "path is not valid UTF-8");
  }
}

Status CheckPath(const std::string& path) {
  if (auto problem = HubPathProblem(path)) {
    // The reading would not use such an event (docs/format-notes.md): refuse to write it.
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid hub path \"" + ShortPathForMessage(path) + "\": " + *problem);
  }
  return Status::Ok();
}

// Writing below a live file would silently turn that file into a
// directory (the later event wins): refuse it, naming the file.
Status CheckNoFileAbove(const FilesReading& reading, const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string ancestor = path.substr(0, slash);
    if (reading.IsFile(ancestor)) {
      return MakeError(ErrorCode::kInvalidArgument, "a file exists at " + ancestor);
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<FilesWriter>> FilesWriter::Load(hub::Hub& hub) {
  auto db = state::StateDb::Open(hub.store().primary().state_dir() / "state.sqlite");
  if (db.ok()) {
    auto index = std::make_unique<state::EventIndex>(db->get(), &hub);
    index->KeepAdded(false);
    if (index->Refresh().ok()) {
      state::FilesProjectionReport report;
      auto reading = state::LoadFilesReading(*index, {}, &report);
      if (reading.ok()) {
        auto writer = std::make_unique<FilesWriter>(hub, std::move(*reading));
        writer->db_ = std::move(*db);
        writer->index_ = std::move(index);
        writer->mark_ = report.mark;
        return writer;
      }
    }
  }
  // No usable local state (e.g. a read-only store): replay everything.
  NB_ASSIGN_OR_RETURN(HubTimeline timeline, LoadTimelineUncached(hub));
  return std::make_unique<FilesWriter>(hub, FilesReading::Replay(std::move(timeline.events)));
}

FilesWriter::FilesWriter(hub::Hub& hub, FilesReading reading)
    : hub_(hub), reading_(std::move(reading)), head_at_load_(reading_.observed_head()) {}

FilesWriter::~FilesWriter() {
  Status saved = SaveProjection();
  if (!saved.ok()) {
    NB_LOG(kWarn, "files") << "local state not saved: " << saved.error().message;
  }
}

Status FilesWriter::SaveProjection() {
  if (!index_ || batch_ || !unsaved_) return Status::Ok();
  unsaved_ = false;
  NB_RETURN_IF_ERROR(state::SaveFilesReading(*index_, reading_, mark_));
  NoteSearchAfterWrites(hub_, head_at_load_, reading_.observed_head(), single_blocks_written_);
  head_at_load_ = reading_.observed_head();
  single_blocks_written_.clear();
  return Status::Ok();
}

int64_t FilesWriter::NextTimestamp() {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  last_timestamp_ = std::max(now, last_timestamp_);
  return last_timestamp_;
}

std::vector<Hash256> FilesWriter::RefsFor(const std::vector<std::string>& touched,
                                          const std::optional<Hash256>& new_content) const {
  std::vector<Hash256> refs;
  if (auto head = reading_.observed_head()) refs.push_back(*head);
  for (const auto& path : touched) {
    if (auto last = reading_.LastEventAt(path)) refs.push_back(*last);
    auto file = reading_.files().find(path);
    if (file != reading_.files().end()) refs.push_back(file->second.content.hash);
  }
  if (new_content) refs.push_back(*new_content);
  for (const auto& path : touched) {
    for (const auto& loser : reading_.ConflictingEvents(path)) refs.push_back(loser);
  }
  return log::DedupBlockRefs(refs);
}

Result<Hash256> FilesWriter::Append(const std::string& payload, const std::vector<Hash256>& refs) {
  NB_ASSIGN_OR_RETURN(log::ValidEvent event, batch_
                                                 ? hub_.AppendPayloadStaged(payload, refs, *batch_)
                                                 : hub_.AppendPayload(payload, refs));
  auto decoded = DecodeEvent(event.hash, event.envelope.block_refs, payload);
  if (!decoded) return MakeError(ErrorCode::kInternal, "wrote an event we cannot decode");
  if (decoded->files && decoded->files->content &&
      decoded->files->content->kind == ContentRef::Kind::kSingle) {
    single_blocks_written_.push_back(decoded->files->content->hash);
  }
  const int64_t timestamp = decoded->timestamp;
  const bool is_files = decoded->files.has_value();
  reading_.AppendLocal(std::move(*decoded));
  if (index_) {
    state::EventIndex::Appended appended{event.hash, std::move(event.envelope.block_refs), payload,
                                         std::nullopt};
    if (is_files) appended.files_timestamp = timestamp;
    if (batch_) {
      staged_.push_back(std::move(appended));
    } else {
      RecordAppended({std::move(appended)});
    }
  }
  return event.hash;
}

void FilesWriter::RecordAppended(const std::vector<state::EventIndex::Appended>& events) {
  Status recorded = index_->RecordAppended(events);
  if (recorded.ok()) {
    unsaved_ = true;
  } else {
    mark_.valid = false;  // the projection must not name events the index lacks
    NB_LOG(kWarn, "files") << "local state not updated: " << recorded.error().message;
  }
}

void FilesWriter::BeginBatch() {
  if (!batch_) batch_ = std::make_unique<store::BatchPublisher>(&hub_.store().primary());
}

Result<size_t> FilesWriter::CommitBatch() {
  if (!batch_) return size_t{0};
  auto committed = batch_->Commit();
  batch_.reset();
  std::vector<state::EventIndex::Appended> staged = std::move(staged_);
  staged_.clear();
  if (!committed.ok()) {
    // The reading holds events that are not on disk: store nothing of it.
    mark_.valid = false;
    unsaved_ = false;
    return committed;
  }
  if (index_) RecordAppended(staged);
  return committed;
}

Result<Hash256> FilesWriter::CreateFile(const std::string& path, const ContentRef& content,
                                        ByteSpan wrapped_key,
                                        const std::optional<std::string>& mime_type) {
  NB_RETURN_IF_ERROR(CheckPath(path));
  NB_RETURN_IF_ERROR(CheckNoFileAbove(reading_, path));
  if (reading_.IsDirectory(path)) {
    return MakeError(ErrorCode::kInvalidArgument, "a directory exists at " + path);
  }
  Json content_json;
  if (content.kind == ContentRef::Kind::kSingle) {
    content_json = Json{{"protocol", "nb.content.single.v1"}, {"blockHash", content.hash.Hex()}};
  } else {
    content_json =
        Json{{"protocol", "nb.content.manifest.v1"}, {"manifestHash", content.hash.Hex()}};
  }
  Json payload{{"type", "CREATE_FILE"},
               {"path", path},
               {"content", content_json},
               {"wrappedKey", Base64Encode(wrapped_key)},
               {"createdAt", NextTimestamp()}};
  if (mime_type) payload["mimeType"] = *mime_type;
  NB_ASSIGN_OR_RETURN(std::string text, Serialize(payload));
  return Append(text, RefsFor({path}, content.hash));
}

Result<Hash256> FilesWriter::Mkdir(const std::string& path) {
  NB_RETURN_IF_ERROR(CheckPath(path));
  NB_RETURN_IF_ERROR(CheckNoFileAbove(reading_, path));
  if (reading_.IsFile(path)) {
    return MakeError(ErrorCode::kInvalidArgument, "a file exists at " + path);
  }
  NB_ASSIGN_OR_RETURN(
      std::string text,
      Serialize(Json{{"type", "MKDIR"}, {"path", path}, {"createdAt", NextTimestamp()}}));
  return Append(text, RefsFor({path}, std::nullopt));
}

Result<Hash256> FilesWriter::Remove(const std::string& path, bool recursive) {
  NB_RETURN_IF_ERROR(CheckPath(path));
  bool is_file = reading_.IsFile(path);
  if (!is_file && !reading_.IsDirectory(path)) {
    return MakeError(ErrorCode::kNotFound, "no such file or directory: " + path);
  }
  if (!is_file && !recursive) {
    std::string prefix = path + "/";
    auto f = reading_.files().lower_bound(prefix);
    bool has_files = f != reading_.files().end() && f->first.rfind(prefix, 0) == 0;
    auto d = reading_.explicit_dirs().lower_bound(prefix);
    bool has_dirs = d != reading_.explicit_dirs().end() && d->rfind(prefix, 0) == 0;
    if (has_files || has_dirs) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + " is a directory that is not empty (use rm -r)");
    }
  }
  NB_ASSIGN_OR_RETURN(
      std::string text,
      Serialize(Json{{"type", "DELETE"}, {"path", path}, {"deletedAt", NextTimestamp()}}));
  return Append(text, RefsFor({path}, std::nullopt));
}

Result<Hash256> FilesWriter::Rename(const std::string& from, const std::string& to) {
  NB_RETURN_IF_ERROR(CheckPath(from));
  NB_RETURN_IF_ERROR(CheckPath(to));
  bool is_file = reading_.IsFile(from);
  if (!is_file && !reading_.IsDirectory(from)) {
    return MakeError(ErrorCode::kNotFound, "no such file or directory: " + from);
  }
  if (from == to) return MakeError(ErrorCode::kInvalidArgument, "source and target are the same");
  NB_RETURN_IF_ERROR(CheckNoFileAbove(reading_, to));
  if (!is_file && to.size() > from.size() && to.compare(0, from.size(), from) == 0 &&
      to[from.size()] == '/') {
    return MakeError(ErrorCode::kInvalidArgument, "cannot move a directory into itself");
  }
  // FORMAT.md §5: a RENAME goes past every timestamp already in the timeline.
  int64_t when = std::max(NextTimestamp(), reading_.max_timestamp() + 1);
  last_timestamp_ = when;
  NB_ASSIGN_OR_RETURN(
      std::string text,
      Serialize(Json{{"type", "RENAME"}, {"fromPath", from}, {"toPath", to}, {"renamedAt", when}}));
  return Append(text, RefsFor({from, to}, std::nullopt));
}

std::string ShortPathForMessage(std::string_view path) {
  constexpr size_t kShown = 120;
  if (path.size() <= kShown) return std::string(path);
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(path[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8
  return std::string(path.substr(0, cut)) + "...";
}

std::optional<std::string> GuessMimeType(std::string_view name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".txt", "text/plain"},        {".md", "text/markdown"},      {".csv", "text/csv"},
      {".html", "text/html"},        {".htm", "text/html"},         {".css", "text/css"},
      {".js", "text/javascript"},    {".json", "application/json"}, {".xml", "application/xml"},
      {".pdf", "application/pdf"},   {".zip", "application/zip"},   {".gz", "application/gzip"},
      {".tar", "application/x-tar"}, {".png", "image/png"},         {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},       {".gif", "image/gif"},         {".webp", "image/webp"},
      {".svg", "image/svg+xml"},     {".mp3", "audio/mpeg"},        {".ogg", "audio/ogg"},
      {".wav", "audio/wav"},         {".mp4", "video/mp4"},         {".webm", "video/webm"},
  };
  size_t dot = name.rfind('.');
  size_t slash = name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return std::nullopt;
  }
  std::string ext(name.substr(dot));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [suffix, type] : kTypes) {
    if (ext == suffix) return std::string(type);
  }
  return std::nullopt;
}

}  // namespace nb::apps::files
