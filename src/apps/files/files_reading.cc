#include "apps/files/files_reading.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <queue>

namespace nb::apps::files {
namespace {

using Json = nlohmann::json;

constexpr uint32_t kNoInterval = UINT32_MAX;

std::optional<int64_t> IntegerField(const Json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::optional<std::string> StringField(const Json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<ContentRef> ParseContent(const Json& doc) {
  auto it = doc.find("content");
  if (it == doc.end() || !it->is_object()) return std::nullopt;
  auto protocol = StringField(*it, "protocol");
  if (!protocol) return std::nullopt;
  std::optional<std::string> hex;
  ContentRef ref{};
  if (*protocol == "nb.content.single.v1") {
    hex = StringField(*it, "blockHash");
    ref.kind = ContentRef::Kind::kSingle;
  } else if (*protocol == "nb.content.manifest.v1") {
    hex = StringField(*it, "manifestHash");
    ref.kind = ContentRef::Kind::kManifest;
  } else {
    return std::nullopt;
  }
  if (!hex) return std::nullopt;
  auto hash = Hash256::FromHex(*hex);
  if (!hash) return std::nullopt;
  ref.hash = *hash;
  return ref;
}

bool StartsWithDir(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

const char* FileOpName(FileOp op) {
  switch (op) {
    case FileOp::kCreateFile:
      return "CREATE_FILE";
    case FileOp::kMkdir:
      return "MKDIR";
    case FileOp::kDelete:
      return "DELETE";
    case FileOp::kRename:
      return "RENAME";
  }
  return "?";
}

bool IsValidHubPath(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.back() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (segment.find('\0') != std::string_view::npos) return false;
    start = end + 1;
  }
  return true;
}

std::optional<DecodedEvent> DecodeEvent(const Hash256& hash, const std::vector<Hash256>& block_refs,
                                        std::string_view payload_json) {
  Json doc = Json::parse(payload_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto type = StringField(doc, "type");
  if (!type) return std::nullopt;

  DecodedEvent out;
  out.hash = hash;
  out.block_refs = block_refs;
  std::optional<int64_t> timestamp;
  FilesEvent files;
  bool is_files = true;
  if (*type == "CREATE_FILE") {
    files.op = FileOp::kCreateFile;
    timestamp = IntegerField(doc, "createdAt");
  } else if (*type == "MKDIR") {
    files.op = FileOp::kMkdir;
    timestamp = IntegerField(doc, "createdAt");
  } else if (*type == "DELETE") {
    files.op = FileOp::kDelete;
    timestamp = IntegerField(doc, "deletedAt");
  } else if (*type == "RENAME") {
    files.op = FileOp::kRename;
    timestamp = IntegerField(doc, "renamedAt");
  } else {
    is_files = false;
    timestamp = IntegerField(doc, "publishedAt");
    if (!timestamp) timestamp = IntegerField(doc, "createdAt");
  }
  if (!timestamp) return std::nullopt;
  out.timestamp = *timestamp;
  if (!is_files) {
    out.app_payload = std::string(payload_json);
    return out;
  }

  if (files.op == FileOp::kRename) {
    auto from = StringField(doc, "fromPath");
    auto to = StringField(doc, "toPath");
    files.path = from.value_or("");
    files.to_path = to.value_or("");
    files.usable = from && to && IsValidHubPath(*from) && IsValidHubPath(*to);
  } else {
    auto path = StringField(doc, "path");
    files.path = path.value_or("");
    files.usable = path && IsValidHubPath(*path);
  }
  if (files.op == FileOp::kCreateFile) {
    files.content = ParseContent(doc);
    auto wrapped = StringField(doc, "wrappedKey");
    std::optional<Bytes> key = wrapped ? Base64Decode(*wrapped) : std::nullopt;
    if (!files.content || !key) {
      files.usable = false;
    } else {
      files.wrapped_key = std::move(*key);
    }
    files.mime_type = StringField(doc, "mimeType");
  }
  out.files = std::move(files);
  return out;
}

FilesReading FilesReading::Replay(std::vector<DecodedEvent> events) {
  FilesReading reading;
  // Deduplicate by hash (several roots can hold the same event).
  std::sort(events.begin(), events.end(),
            [](const DecodedEvent& a, const DecodedEvent& b) { return a.hash < b.hash; });
  events.erase(
      std::unique(events.begin(), events.end(),
                  [](const DecodedEvent& a, const DecodedEvent& b) { return a.hash == b.hash; }),
      events.end());
  std::unordered_map<Hash256, size_t> by_hash;
  for (size_t i = 0; i < events.size(); ++i) by_hash.emplace(events[i].hash, i);

  // Parent edges: a FILES event's blockRefs[0] naming another decoded event.
  const size_t n = events.size();
  std::vector<size_t> parent(n, SIZE_MAX);
  std::vector<std::vector<size_t>> children(n);
  std::vector<size_t> pending(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!events[i].files || events[i].block_refs.empty()) continue;
    auto it = by_hash.find(events[i].block_refs[0]);
    if (it == by_hash.end() || it->second == i) continue;
    parent[i] = it->second;
    children[it->second].push_back(i);
    pending[i] = 1;
  }

  // Kahn's algorithm; among ready events: smallest timestamp, then hash.
  auto later = [&](size_t a, size_t b) {
    if (events[a].timestamp != events[b].timestamp) {
      return events[a].timestamp > events[b].timestamp;
    }
    return events[a].hash > events[b].hash;
  };
  std::priority_queue<size_t, std::vector<size_t>, decltype(later)> ready(later);
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    size_t next = ready.top();
    ready.pop();
    order.push_back(next);
    for (size_t child : children[next]) {
      if (--pending[child] == 0) ready.push(child);
    }
  }
  // Parent links cannot form a cycle without a SHA-256 collision; nothing is
  // left over, but never drop an event if that ever changes.
  if (order.size() != n) {
    std::vector<bool> placed(n, false);
    for (size_t i : order) placed[i] = true;
    std::vector<size_t> rest;
    for (size_t i = 0; i < n; ++i) {
      if (!placed[i]) rest.push_back(i);
    }
    std::sort(rest.begin(), rest.end(), [&](size_t a, size_t b) { return later(b, a); });
    order.insert(order.end(), rest.begin(), rest.end());
  }

  std::vector<size_t> position(n);
  reading.events_.reserve(n);
  for (size_t k = 0; k < n; ++k) position[order[k]] = k;
  for (size_t k = 0; k < n; ++k) {
    reading.events_.push_back(std::move(events[order[k]]));
    reading.index_.emplace(reading.events_.back().hash, k);
  }
  reading.parent_.assign(n, SIZE_MAX);
  for (size_t i = 0; i < n; ++i) {
    if (parent[i] != SIZE_MAX) reading.parent_[position[i]] = position[parent[i]];
  }

  // DFS intervals over the parent forest (iterative: histories can be deep).
  reading.enter_.assign(n, kNoInterval);
  reading.leave_.assign(n, kNoInterval);
  std::vector<std::vector<size_t>> kids(n);
  for (size_t k = 0; k < n; ++k) {
    if (reading.parent_[k] != SIZE_MAX) kids[reading.parent_[k]].push_back(k);
  }
  uint32_t clock = 0;
  std::vector<std::pair<size_t, size_t>> stack;
  for (size_t root = 0; root < n; ++root) {
    if (reading.parent_[root] != SIZE_MAX) continue;
    stack.push_back({root, 0});
    reading.enter_[root] = clock++;
    while (!stack.empty()) {
      auto& [node, next_child] = stack.back();
      if (next_child < kids[node].size()) {
        size_t child = kids[node][next_child++];
        reading.enter_[child] = clock++;
        stack.push_back({child, 0});
      } else {
        reading.leave_[node] = clock++;
        stack.pop_back();
      }
    }
  }

  for (size_t k = 0; k < n; ++k) reading.Apply(k);
  reading.FinishConflicts();
  return reading;
}

void FilesReading::AppendLocal(DecodedEvent event) {
  size_t k = events_.size();
  size_t parent = SIZE_MAX;
  if (event.files && !event.block_refs.empty()) {
    auto it = index_.find(event.block_refs[0]);
    if (it != index_.end()) parent = it->second;
  }
  events_.push_back(std::move(event));
  index_.emplace(events_.back().hash, k);
  parent_.push_back(parent);
  enter_.push_back(kNoInterval);
  leave_.push_back(kNoInterval);
  Apply(k);
  FinishConflicts();
}

bool FilesReading::IsAncestor(size_t maybe_ancestor, size_t node) const {
  // Events appended after the replay have no interval: walk up to one that does.
  while (node != SIZE_MAX && enter_[node] == kNoInterval) {
    if (node == maybe_ancestor) return true;
    node = parent_[node];
  }
  if (node == SIZE_MAX || enter_[maybe_ancestor] == kNoInterval) return false;
  return enter_[maybe_ancestor] <= enter_[node] && leave_[node] <= leave_[maybe_ancestor];
}

bool FilesReading::IsDirectory(std::string_view path) const {
  std::string key(path);
  if (explicit_dirs_.count(key)) return true;
  std::string prefix = key + "/";
  auto f = files_.lower_bound(prefix);
  if (f != files_.end() && f->first.compare(0, prefix.size(), prefix) == 0) return true;
  auto d = explicit_dirs_.lower_bound(prefix);
  return d != explicit_dirs_.end() && d->compare(0, prefix.size(), prefix) == 0;
}

std::vector<DirEntry> FilesReading::Directories() const {
  std::map<std::string, bool> dirs;
  auto add_ancestors = [&](const std::string& path) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      dirs.emplace(path.substr(0, slash), false);
    }
  };
  for (const auto& [path, entry] : files_) add_ancestors(path);
  for (const auto& dir : explicit_dirs_) {
    add_ancestors(dir);
    dirs[dir] = true;
  }
  std::vector<DirEntry> out;
  for (const auto& [path, is_explicit] : dirs) out.push_back(DirEntry{path, is_explicit});
  return out;
}

std::optional<Hash256> FilesReading::observed_head() const {
  if (files_order_.empty()) return std::nullopt;
  return files_order_.back();
}

std::optional<Hash256> FilesReading::LastEventAt(std::string_view path) const {
  auto it = last_event_at_.find(std::string(path));
  if (it == last_event_at_.end()) return std::nullopt;
  return events_[it->second].hash;
}

const DecodedEvent* FilesReading::FindEvent(const Hash256& hash) const {
  auto it = index_.find(hash);
  return it == index_.end() ? nullptr : &events_[it->second];
}

std::vector<PathVersion> FilesReading::History(std::string_view path) const {
  std::vector<PathVersion> out;
  auto it = history_.find(std::string(path));
  if (it == history_.end()) return out;
  for (size_t k : it->second) {
    const DecodedEvent& event = events_[k];
    out.push_back(PathVersion{event.hash, event.files->op, event.timestamp, event.files->path,
                              event.files->to_path, event.files->content});
  }
  return out;
}

void FilesReading::RemoveFileAncestors(const std::string& path) {
  for (size_t slash = path.find('/'); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    files_.erase(path.substr(0, slash));
  }
}

void FilesReading::RemoveSubtree(const std::string& path) {
  std::string prefix = path + "/";
  auto f = files_.lower_bound(prefix);
  while (f != files_.end() && f->first.compare(0, prefix.size(), prefix) == 0) {
    f = files_.erase(f);
  }
  explicit_dirs_.erase(path);
  auto d = explicit_dirs_.lower_bound(prefix);
  while (d != explicit_dirs_.end() && d->compare(0, prefix.size(), prefix) == 0) {
    d = explicit_dirs_.erase(d);
  }
}

void FilesReading::NoteTouched(const std::string& path, size_t k) {
  last_event_at_[path] = k;
  auto& list = history_[path];
  if (list.empty() || list.back() != k) list.push_back(k);
  // Concurrent heads of this path: drop those this event has seen, either
  // through its parent chain or because it names them in its blockRefs (our
  // writer names the losing heads of a conflict it overwrites).
  const auto& refs = events_[k].block_refs;
  auto& heads = heads_[path];
  heads.erase(std::remove_if(heads.begin(), heads.end(),
                             [&](size_t head) {
                               return IsAncestor(head, k) ||
                                      std::find(refs.begin(), refs.end(), events_[head].hash) !=
                                          refs.end();
                             }),
              heads.end());
  heads.push_back(k);
  if (heads.size() > 1) conflicted_paths_.insert(path);
}

void FilesReading::Apply(size_t k) {
  const DecodedEvent& event = events_[k];
  if (!event.files) return;
  files_order_.push_back(event.hash);
  max_timestamp_ = std::max(max_timestamp_, event.timestamp);
  const FilesEvent& op = *event.files;
  if (!op.usable) return;

  switch (op.op) {
    case FileOp::kCreateFile: {
      NoteTouched(op.path, k);
      RemoveFileAncestors(op.path);
      if (IsDirectory(op.path)) RemoveSubtree(op.path);
      files_[op.path] =
          FileEntry{*op.content, op.wrapped_key, event.timestamp, op.mime_type, event.hash};
      break;
    }
    case FileOp::kMkdir: {
      NoteTouched(op.path, k);
      files_.erase(op.path);
      RemoveFileAncestors(op.path);
      // An existing directory only becomes explicit; its contents stay.
      explicit_dirs_.insert(op.path);
      break;
    }
    case FileOp::kDelete: {
      NoteTouched(op.path, k);
      if (files_.erase(op.path) == 0) RemoveSubtree(op.path);
      break;
    }
    case FileOp::kRename: {
      NoteTouched(op.path, k);
      NoteTouched(op.to_path, k);
      const std::string& from = op.path;
      const std::string& to = op.to_path;
      if (from == to) break;
      bool is_file = files_.count(from) > 0;
      bool is_dir = !is_file && IsDirectory(from);
      if (!is_file && !is_dir) break;                // missing source: no effect
      if (is_dir && StartsWithDir(to, from)) break;  // into its own subtree: no effect
      // Collect what moves before clearing the target: the target may contain it.
      std::vector<std::pair<std::string, FileEntry>> moved_files;
      std::vector<std::string> moved_dirs;
      std::vector<std::string> moved_paths;
      if (is_file) {
        moved_files.emplace_back(to, files_[from]);
        moved_paths.push_back(from);
        files_.erase(from);
      } else {
        std::string prefix = from + "/";
        for (auto f = files_.lower_bound(prefix);
             f != files_.end() && f->first.compare(0, prefix.size(), prefix) == 0;) {
          moved_paths.push_back(f->first);
          moved_files.emplace_back(to + f->first.substr(from.size()), std::move(f->second));
          f = files_.erase(f);
        }
        if (explicit_dirs_.erase(from)) moved_dirs.push_back(to);
        for (auto d = explicit_dirs_.lower_bound(prefix);
             d != explicit_dirs_.end() && d->compare(0, prefix.size(), prefix) == 0;) {
          moved_paths.push_back(*d);
          moved_dirs.push_back(to + d->substr(from.size()));
          d = explicit_dirs_.erase(d);
        }
      }
      RemoveFileAncestors(to);
      if (files_.erase(to) == 0) RemoveSubtree(to);
      for (auto& [path, entry] : moved_files) files_[path] = std::move(entry);
      for (auto& dir : moved_dirs) explicit_dirs_.insert(dir);
      // Moved paths carry their history to their new names.
      for (const auto& old_path : moved_paths) {
        auto old_history = history_.find(old_path);
        if (old_history == history_.end()) continue;
        if (old_path != from) old_history->second.push_back(k);
        std::vector<size_t> lineage = old_history->second;
        MergeHistory(to + old_path.substr(from.size()), lineage);
      }
      break;
    }
  }
}

void FilesReading::MergeHistory(const std::string& path, const std::vector<size_t>& lineage) {
  auto& target = history_[path];
  target.insert(target.end(), lineage.begin(), lineage.end());
  std::sort(target.begin(), target.end());
  target.erase(std::unique(target.begin(), target.end()), target.end());
}

std::vector<Hash256> FilesReading::ConflictingEvents(std::string_view path) const {
  for (const auto& conflict : conflicts_) {
    if (conflict.path == path) return conflict.other_events;
  }
  return {};
}

void FilesReading::FinishConflicts() {
  conflicts_.clear();
  for (const auto& path : conflicted_paths_) {
    const auto& heads = heads_.at(path);
    if (heads.size() < 2) continue;
    size_t live = *std::max_element(heads.begin(), heads.end());
    Conflict conflict{path, events_[live].hash, {}};
    for (size_t head : heads) {
      if (head != live) conflict.other_events.push_back(events_[head].hash);
    }
    conflicts_.push_back(std::move(conflict));
  }
}

}  // namespace nb::apps::files
