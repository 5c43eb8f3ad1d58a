#include "apps/files/files_reading.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_set>

#include "base/json_depth.h"

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

std::optional<std::string> HubPathProblem(std::string_view path) {
  if (path.empty()) return "the path is empty";
  if (path.size() > kMaxHubPathBytes) {
    return "the path is longer than " + std::to_string(kMaxHubPathBytes) + " bytes";
  }
  if (path.front() == '/' || path.back() == '/') return "a path has no leading or trailing '/'";
  size_t depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) return "a path has no empty parts ('//')";
    if (segment == "." || segment == "..") return "a path has no '.' or '..' parts";
    if (segment.find('\0') != std::string_view::npos) return "a path has no NUL bytes";
    if (segment.size() > kMaxHubPathSegmentBytes) {
      return "a name in the path is longer than " + std::to_string(kMaxHubPathSegmentBytes) +
             " bytes";
    }
    if (++depth > kMaxHubPathDepth) {
      return "the path is deeper than " + std::to_string(kMaxHubPathDepth) + " levels";
    }
    start = end + 1;
  }
  return std::nullopt;
}

bool IsValidHubPath(std::string_view path) { return !HubPathProblem(path).has_value(); }

std::optional<DecodedEvent> DecodeEvent(const Hash256& hash, const std::vector<Hash256>& block_refs,
                                        std::string_view payload_json) {
  if (payload_json.size() > kMaxPayloadBytes ||
      !JsonNestingAtMost(payload_json, kMaxPayloadJsonDepth)) {
    return std::nullopt;
  }
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

std::vector<size_t> CanonicalOrder(const std::vector<OrderNode>& nodes) {
  const size_t n = nodes.size();
  std::unordered_map<Hash256, size_t> by_hash;
  by_hash.reserve(n);
  for (size_t i = 0; i < n; ++i) by_hash.emplace(nodes[i].hash, i);
  // Each node's parent position (SIZE_MAX: none), then the children of
  // each node in one array (children[first[p] .. first[p + 1]) are p's).
  std::vector<size_t> parent(n, SIZE_MAX);
  std::vector<uint8_t> pending(n, 0);
  std::vector<size_t> first(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!nodes[i].parent) continue;
    auto it = by_hash.find(*nodes[i].parent);
    if (it == by_hash.end() || it->second == i) continue;
    parent[i] = it->second;
    pending[i] = 1;
    ++first[it->second + 1];
  }
  for (size_t i = 0; i < n; ++i) first[i + 1] += first[i];
  std::vector<size_t> children(first[n]);
  {
    std::vector<size_t> filled(first.begin(), first.end() - 1);
    for (size_t i = 0; i < n; ++i) {
      if (parent[i] != SIZE_MAX) children[filled[parent[i]]++] = i;
    }
  }
  // Kahn's algorithm; among ready events: smallest timestamp, then hash.
  auto later = [&](size_t a, size_t b) {
    if (nodes[a].timestamp != nodes[b].timestamp) return nodes[a].timestamp > nodes[b].timestamp;
    return nodes[a].hash > nodes[b].hash;
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
    for (size_t c = first[next]; c < first[next + 1]; ++c) {
      if (--pending[children[c]] == 0) ready.push(children[c]);
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
  return order;
}

std::vector<OrderNode> FilesOrderNodes(std::vector<OrderNode> nodes) {
  std::unordered_set<Hash256> named;
  for (auto& node : nodes) {
    if (!node.files) node.parent.reset();  // only FILES events have parent edges
    if (node.files && node.parent) named.insert(*node.parent);
  }
  std::erase_if(nodes,
                [&](const OrderNode& node) { return !node.files && !named.count(node.hash); });
  return nodes;
}

namespace {

OrderNode OrderNodeOf(const DecodedEvent& event) {
  OrderNode node{event.hash, event.timestamp, std::nullopt, event.files.has_value()};
  if (event.files && !event.block_refs.empty()) node.parent = event.block_refs[0];
  return node;
}

}  // namespace

void FilesReading::BuildNodes(const std::vector<OrderNode>& ordered) {
  const size_t n = ordered.size();
  nodes_.clear();
  nodes_.reserve(n);
  index_.clear();
  index_.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    nodes_.push_back(Node{ordered[k].hash, ordered[k].timestamp, SIZE_MAX, ordered[k].files});
    index_.emplace(ordered[k].hash, k);
  }
  for (size_t k = 0; k < n; ++k) {
    if (!ordered[k].parent) continue;
    auto it = index_.find(*ordered[k].parent);
    // A parent always comes first in canonical order; a link that points
    // forward (only possible in the collision fallback) is ignored so the
    // links stay a forest.
    if (it != index_.end() && it->second < k) nodes_[k].parent = it->second;
  }

  depth_.assign(n, 0);
  jump_.resize(n);
  anchor_.clear();
  for (size_t k = 0; k < n; ++k) SetJump(k, nodes_[k].parent);

  // DFS intervals over the parent forest (iterative: histories can be deep).
  enter_.assign(n, kNoInterval);
  leave_.assign(n, kNoInterval);
  // Children of each node, ascending, in one array (kids_of[first[k] ..
  // first[k + 1]) are k's): a vector per node cost an allocation each.
  std::vector<uint32_t> first(n + 1, 0), kids_of(n);
  for (size_t k = 0; k < n; ++k) {
    if (nodes_[k].parent != SIZE_MAX) ++first[nodes_[k].parent + 1];
  }
  for (size_t k = 0; k < n; ++k) first[k + 1] += first[k];
  {
    std::vector<uint32_t> filled(first.begin(), first.end() - 1);
    for (size_t k = 0; k < n; ++k) {
      if (nodes_[k].parent != SIZE_MAX) {
        kids_of[filled[nodes_[k].parent]++] = static_cast<uint32_t>(k);
      }
    }
  }
  uint32_t clock = 0;
  std::vector<std::pair<size_t, size_t>> stack;
  for (size_t root = 0; root < n; ++root) {
    if (nodes_[root].parent != SIZE_MAX) continue;
    stack.push_back({root, first[root]});
    enter_[root] = clock++;
    while (!stack.empty()) {
      auto& [node, next_child] = stack.back();
      if (next_child < first[node + 1]) {
        size_t child = kids_of[next_child++];
        enter_[child] = clock++;
        stack.push_back({child, first[child]});
      } else {
        leave_[node] = clock++;
        stack.pop_back();
      }
    }
  }
  first_appended_ = n;
}

void FilesReading::SetJump(size_t k, size_t parent) {
  if (parent == SIZE_MAX) {
    depth_[k] = 0;
    jump_[k] = k;
    return;
  }
  depth_[k] = depth_[parent] + 1;
  // Skew-binary jump links (Myers): a level-ancestor query takes O(log depth).
  size_t j = jump_[parent];
  jump_[k] = depth_[parent] - depth_[j] == depth_[j] - depth_[jump_[j]] ? jump_[j] : parent;
}

size_t FilesReading::AncestorAtDepth(size_t node, uint32_t depth) const {
  while (depth_[node] > depth) {
    size_t j = jump_[node];
    node = depth_[j] >= depth ? j : nodes_[node].parent;
  }
  return node;
}

FilesReading FilesReading::Replay(std::vector<DecodedEvent> events) {
  // Deduplicate by hash (several roots can hold the same event).
  std::sort(events.begin(), events.end(),
            [](const DecodedEvent& a, const DecodedEvent& b) { return a.hash < b.hash; });
  events.erase(
      std::unique(events.begin(), events.end(),
                  [](const DecodedEvent& a, const DecodedEvent& b) { return a.hash == b.hash; }),
      events.end());
  std::vector<OrderNode> nodes;
  nodes.reserve(events.size());
  for (const auto& event : events) nodes.push_back(OrderNodeOf(event));
  nodes = FilesOrderNodes(std::move(nodes));
  std::vector<size_t> order = CanonicalOrder(nodes);

  FilesReading reading;
  std::vector<OrderNode> ordered;
  ordered.reserve(order.size());
  for (size_t i : order) ordered.push_back(nodes[i]);
  reading.BuildNodes(ordered);
  for (auto& event : events) {
    if (reading.index_.count(event.hash)) reading.details_.emplace(event.hash, std::move(event));
  }
  for (size_t k = 0; k < reading.nodes_.size(); ++k) {
    reading.Apply(k, reading.details_.at(reading.nodes_[k].hash));
  }
  reading.FinishConflicts();
  return reading;
}

Result<FilesReading> FilesReading::Resume(const std::vector<OrderNode>& ordered, size_t from,
                                          std::string_view state, std::vector<DecodedEvent> fold,
                                          EventLookup lookup, const Checkpoint& checkpoint) {
  FilesReading reading;
  reading.BuildNodes(ordered);
  reading.lookup_ = std::move(lookup);
  const size_t n = reading.nodes_.size();
  if (from > n || fold.size() != n - from) {
    return MakeError(ErrorCode::kInternal, "files projection: resume range does not fit");
  }
  if ((from > 0 || !state.empty()) && !reading.RestoreState(state, from)) {
    return MakeError(ErrorCode::kCorrupt, "files projection: saved state is unreadable");
  }
  for (size_t k = from; k < n; ++k) {
    DecodedEvent& event = fold[k - from];
    if (event.hash != reading.nodes_[k].hash) {
      return MakeError(ErrorCode::kInternal, "files projection: events out of order");
    }
    if (checkpoint) checkpoint(k, reading);
    reading.Apply(k, event);
    // With a lookup the details stay in the local state: memory stays flat.
    if (event.files && !reading.lookup_) reading.details_.emplace(event.hash, std::move(event));
  }
  reading.FinishConflicts();
  return reading;
}

std::vector<OrderNode> FilesReading::OrderNodes() const {
  std::vector<OrderNode> out;
  out.reserve(nodes_.size());
  for (const Node& node : nodes_) {
    OrderNode ordered{node.hash, node.timestamp, std::nullopt, node.files};
    if (node.parent != SIZE_MAX) ordered.parent = nodes_[node.parent].hash;
    out.push_back(ordered);
  }
  return out;
}

void FilesReading::AppendLocal(DecodedEvent event) {
  if (!event.files || index_.count(event.hash)) return;  // only FILES events take a place
  size_t k = nodes_.size();
  size_t parent = SIZE_MAX;
  if (!event.block_refs.empty()) {
    auto it = index_.find(event.block_refs[0]);
    if (it != index_.end()) parent = it->second;
  }
  nodes_.push_back(Node{event.hash, event.timestamp, parent, true});
  index_.emplace(event.hash, k);
  enter_.push_back(kNoInterval);
  leave_.push_back(kNoInterval);
  depth_.push_back(0);
  jump_.push_back(k);
  SetJump(k, parent);
  size_t anchor = SIZE_MAX;
  if (parent != SIZE_MAX) anchor = enter_[parent] != kNoInterval ? parent : anchor_.at(parent);
  anchor_[k] = anchor;
  Apply(k, event);
  if (event.files->usable) {
    RefreshConflict(event.files->path);
    if (event.files->op == FileOp::kRename) RefreshConflict(event.files->to_path);
  }
  details_.emplace(event.hash, std::move(event));
}

bool FilesReading::IsAncestor(size_t maybe_ancestor, size_t node) const {
  if (enter_[maybe_ancestor] != kNoInterval && enter_[node] != kNoInterval) {
    return enter_[maybe_ancestor] <= enter_[node] && leave_[node] <= leave_[maybe_ancestor];
  }
  return depth_[maybe_ancestor] <= depth_[node] &&
         AncestorAtDepth(node, depth_[maybe_ancestor]) == maybe_ancestor;
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
  // Deepest ancestor first: once one is known, every ancestor above it is
  // too, so the work is linear in the size of the answer.
  auto add_ancestors = [&](const std::string& path) {
    for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = path.rfind('/', slash - 1)) {
      if (!dirs.emplace(path.substr(0, slash), false).second) break;
    }
  };
  for (const auto& [path, entry] : files_) add_ancestors(path);
  for (const auto& dir : explicit_dirs_) {
    add_ancestors(dir);
    dirs[dir] = true;
  }
  std::vector<DirEntry> out;
  out.reserve(dirs.size());
  for (const auto& [path, is_explicit] : dirs) out.push_back(DirEntry{path, is_explicit});
  return out;
}

std::optional<Hash256> FilesReading::observed_head() const {
  if (files_order_.empty()) return std::nullopt;
  return files_order_.back();
}

std::optional<Hash256> FilesReading::LastEventAt(std::string_view path) const {
  LoadDeferred();
  auto it = last_event_at_.find(std::string(path));
  if (it == last_event_at_.end()) return std::nullopt;
  return nodes_[it->second].hash;
}

std::optional<DecodedEvent> FilesReading::FindEvent(const Hash256& hash) const {
  if (!index_.count(hash)) return std::nullopt;
  auto it = details_.find(hash);
  if (it != details_.end()) return it->second;
  if (lookup_) return lookup_(hash);
  return std::nullopt;
}

std::vector<size_t> FilesReading::HistoryPositions(const std::string& path) const {
  LoadDeferred();
  // Visit each path once, latest cutoff first: a later visit of the same
  // path would only bring a subset of what the first one brought.
  std::priority_queue<std::pair<size_t, const std::string*>> queue;  // (cutoff, path)
  std::unordered_set<std::string_view> visited;
  std::vector<size_t> out;
  queue.push({SIZE_MAX, &path});
  while (!queue.empty()) {
    auto [cutoff, at_path] = queue.top();
    queue.pop();
    if (!visited.insert(*at_path).second) continue;
    auto it = history_.find(*at_path);
    if (it == history_.end()) continue;
    for (size_t k : it->second.own) {
      if (k > cutoff) break;
      out.push_back(k);
    }
    // Events of the old path up to (and including) the RENAME that moved it;
    // what moved onto the old path in that same RENAME did not come along.
    for (const auto& [k, old_path] : it->second.moved_from) {
      if (k >= cutoff) break;
      queue.push({k, &old_path});
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<PathVersion> FilesReading::History(std::string_view path) const {
  std::vector<PathVersion> out;
  for (size_t k : HistoryPositions(std::string(path))) {
    auto event = FindEvent(nodes_[k].hash);
    if (!event || !event->files) continue;  // the local state lost it; a rebuild brings it back
    out.push_back(PathVersion{event->hash, event->files->op, event->timestamp, event->files->path,
                              event->files->to_path, event->files->content,
                              event->files->wrapped_key});
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

void FilesReading::NoteTouched(const std::string& path, size_t k,
                               const std::vector<Hash256>& refs) {
  last_event_at_[path] = k;
  auto& list = history_[path].own;
  if (list.empty() || list.back() != k) list.push_back(k);
  // Concurrent heads of this path: drop those this event has seen, either
  // through its parent chain or because it names them in its blockRefs (our
  // writer names the losing heads of a conflict it overwrites). Each check
  // costs O(log n), never a pass over every head: a member who writes many
  // concurrent events at one path must not make the reading quadratic.
  Heads& heads = heads_[path];
  for (const auto& ref : refs) {
    auto named = index_.find(ref);
    if (named != index_.end() && heads.positions.count(named->second)) {
      DropHead(heads, named->second);
    }
  }
  size_t probe = k;  // the nearest event at or above k that has an interval
  if (enter_[k] == kNoInterval) {
    auto anchor = anchor_.find(k);
    probe = anchor == anchor_.end() ? SIZE_MAX : anchor->second;
  }
  if (probe != SIZE_MAX) {
    auto it = heads.by_enter.upper_bound(enter_[probe]);
    if (it != heads.by_enter.begin()) {
      size_t head = std::prev(it)->second;
      if (leave_[probe] <= leave_[head]) DropHead(heads, head);
    }
  }
  // Heads appended by this process (no interval): they form one chain, so
  // there are few of them.
  std::vector<size_t> seen;
  for (auto it = heads.positions.lower_bound(first_appended_); it != heads.positions.end(); ++it) {
    if (IsAncestor(*it, k)) seen.push_back(*it);
  }
  for (size_t head : seen) DropHead(heads, head);
  AddHead(heads, k);
  if (heads.positions.size() > 1) conflicted_paths_.insert(path);
}

void FilesReading::AddHead(Heads& heads, size_t k) const {
  heads.positions.insert(k);
  if (enter_[k] != kNoInterval) heads.by_enter[enter_[k]] = k;
}

void FilesReading::DropHead(Heads& heads, size_t k) {
  heads.positions.erase(k);
  if (enter_[k] != kNoInterval) heads.by_enter.erase(enter_[k]);
}

void FilesReading::Apply(size_t k, const DecodedEvent& event) {
  LoadDeferred();
  folded_ = k + 1;
  if (!nodes_[k].files || !event.files) return;  // a parent that is not a FILES event
  files_order_.push_back(event.hash);
  max_timestamp_ = std::max(max_timestamp_, event.timestamp);
  const FilesEvent& op = *event.files;
  if (!op.usable) return;
  const auto& refs = event.block_refs;

  switch (op.op) {
    case FileOp::kCreateFile: {
      NoteTouched(op.path, k, refs);
      RemoveFileAncestors(op.path);
      if (IsDirectory(op.path)) RemoveSubtree(op.path);
      files_[op.path] =
          FileEntry{*op.content, op.wrapped_key, event.timestamp, op.mime_type, event.hash};
      break;
    }
    case FileOp::kMkdir: {
      NoteTouched(op.path, k, refs);
      files_.erase(op.path);
      RemoveFileAncestors(op.path);
      // An existing directory only becomes explicit; its contents stay.
      explicit_dirs_.insert(op.path);
      break;
    }
    case FileOp::kDelete: {
      NoteTouched(op.path, k, refs);
      if (files_.erase(op.path) == 0) RemoveSubtree(op.path);
      break;
    }
    case FileOp::kRename: {
      NoteTouched(op.path, k, refs);
      NoteTouched(op.to_path, k, refs);
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
        auto& own = old_history->second.own;
        if (old_path != from && (own.empty() || own.back() != k)) own.push_back(k);
        history_[to + old_path.substr(from.size())].moved_from.emplace_back(k, old_path);
      }
      break;
    }
  }
}

std::vector<Hash256> FilesReading::ConflictingEvents(std::string_view path) const {
  LoadDeferred();
  std::vector<Hash256> out;
  auto it = heads_.find(std::string(path));
  if (it == heads_.end() || it->second.positions.size() < 2) return out;
  const auto& positions = it->second.positions;
  for (auto p = positions.begin(); p != std::prev(positions.end()); ++p) {
    out.push_back(nodes_[*p].hash);
  }
  return out;
}

namespace {

bool ConflictPathLess(const Conflict& conflict, const std::string& path) {
  return conflict.path < path;
}

}  // namespace

void FilesReading::FinishConflicts() {
  conflicts_.clear();
  for (const auto& path : conflicted_paths_) RefreshConflict(path);
}

void FilesReading::RefreshConflict(const std::string& path) {
  auto at = std::lower_bound(conflicts_.begin(), conflicts_.end(), path, ConflictPathLess);
  bool listed = at != conflicts_.end() && at->path == path;
  auto heads = heads_.find(path);
  if (heads == heads_.end() || heads->second.positions.size() < 2) {
    if (listed) conflicts_.erase(at);
    return;
  }
  // The live version is the head latest in canonical order; the others
  // lost. (Not through ConflictingEvents: the heads of conflicted paths are
  // at hand before the deferred parts of a restored state are parsed.)
  const auto& positions = heads->second.positions;
  Conflict conflict{path, nodes_[*positions.rbegin()].hash, {}};
  for (auto p = positions.begin(); p != std::prev(positions.end()); ++p) {
    conflict.other_events.push_back(nodes_[*p].hash);
  }
  if (listed) {
    *at = std::move(conflict);
  } else {
    conflicts_.insert(at, std::move(conflict));
  }
}

// The saved fold state: a magic line, then LEB128 integers and
// length-prefixed strings, then the SHA-256 of everything before it. The
// state database has no checksums of its own, and a state that reads but is
// wrong would silently give a wrong tree.
namespace {

constexpr std::string_view kStateMagic = "nb.files.state.v2\n";

class StateWriter {
 public:
  void Number(uint64_t value) {
    while (value >= 0x80) {
      out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    out_.push_back(static_cast<char>(value));
  }
  void Signed(int64_t value) { Number(static_cast<uint64_t>(value)); }
  void Text(std::string_view text) {
    Number(text.size());
    out_.append(text);
  }
  void Raw(ByteSpan bytes) { out_.append(AsChars(bytes)); }
  void Hash(const Hash256& hash) { Raw(hash.bytes); }
  std::string Finish() {
    Hash256 sum = crypto::Sha256(AsBytes(out_));
    Raw(sum.bytes);
    return std::move(out_);
  }

 private:
  std::string out_{kStateMagic};
};

}  // namespace

// Every read is bounds-checked; a failed read leaves ok() false and returns zeros.
class StateReader {
 public:
  explicit StateReader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool AtEnd() const { return at_ == data_.size(); }
  uint64_t Number() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!Need(1)) return 0;
      uint8_t byte = static_cast<uint8_t>(data_[at_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    ok_ = false;
    return 0;
  }
  int64_t Signed() { return static_cast<int64_t>(Number()); }
  // A count of items that each take at least one byte: never more than what is left.
  uint64_t Count() {
    uint64_t count = Number();
    if (count > data_.size() - at_) ok_ = false;
    return ok_ ? count : 0;
  }
  std::string Text() {
    uint64_t size = Number();
    if (!Need(size)) return {};
    std::string out(data_.substr(at_, size));
    at_ += size;
    return out;
  }
  // Checks a string's bounds without copying it.
  void SkipText() {
    uint64_t size = Number();
    if (Need(size)) at_ += size;
  }
  size_t Offset() const { return at_; }
  void Seek(size_t at) {
    if (at > data_.size()) ok_ = false;
    at_ = ok_ ? at : at_;
  }
  Hash256 Hash() {
    Hash256 hash;
    if (!Need(hash.bytes.size())) return hash;
    std::memcpy(hash.bytes.data(), data_.data() + at_, hash.bytes.size());
    at_ += hash.bytes.size();
    return hash;
  }
  // A position in the order, which must be below `limit`.
  size_t Position(size_t limit) {
    uint64_t value = Number();
    if (value >= limit) ok_ = false;
    return ok_ ? static_cast<size_t>(value) : 0;
  }

 private:
  bool Need(uint64_t size) {
    if (!ok_ || size > data_.size() - at_) ok_ = false;
    return ok_;
  }
  std::string_view data_;
  size_t at_ = 0;
  bool ok_ = true;
};

std::string FilesReading::SaveState() const {
  LoadDeferred();
  StateWriter out;
  out.Number(folded_);
  out.Signed(max_timestamp_);
  out.Number(files_.size());
  for (const auto& [path, entry] : files_) {
    out.Text(path);
    out.Number(entry.content.kind == ContentRef::Kind::kManifest ? 1 : 0);
    out.Hash(entry.content.hash);
    out.Text(AsChars(entry.wrapped_key));
    out.Signed(entry.modified_ms);
    out.Number(entry.mime_type ? 1 : 0);
    if (entry.mime_type) out.Text(*entry.mime_type);
    out.Hash(entry.origin_event);
  }
  out.Number(explicit_dirs_.size());
  for (const auto& dir : explicit_dirs_) out.Text(dir);
  out.Number(last_event_at_.size());
  for (const auto& [path, k] : last_event_at_) {
    out.Text(path);
    out.Number(k);
  }
  out.Number(history_.size());
  for (const auto& [path, history] : history_) {
    out.Text(path);
    out.Number(history.own.size());
    for (size_t k : history.own) out.Number(k);
    out.Number(history.moved_from.size());
    for (const auto& [k, old_path] : history.moved_from) {
      out.Number(k);
      out.Text(old_path);
    }
  }
  out.Number(heads_.size());
  for (const auto& [path, heads] : heads_) {
    out.Text(path);
    out.Number(heads.positions.size());
    for (size_t k : heads.positions) out.Number(k);
  }
  out.Number(conflicted_paths_.size());
  for (const auto& path : conflicted_paths_) out.Text(path);
  return out.Finish();
}

// The deferred sections of a saved state at `reader` (a StateReader): each
// path's last event, its history, its heads. Without `build` they are only
// checked (bounds, positions below `from`, ascending history lists) and
// `heads_at` tells where the heads start; with it they are built (a path
// whose heads are there already keeps them).
bool FilesReading::ReadDeferredSections(StateReader& in, size_t from, bool build,
                                        size_t* heads_at) const {
  // Counts are bounded by the bytes left (Count), so reserving is safe.
  const uint64_t last_events = in.Count();
  if (build) last_event_at_.reserve(last_events);
  for (uint64_t i = last_events; i > 0 && in.ok(); --i) {
    if (!build) {
      in.SkipText();
      in.Position(from);
      continue;
    }
    std::string path = in.Text();
    last_event_at_[std::move(path)] = in.Position(from);
  }
  const uint64_t histories = in.Count();
  if (build) history_.reserve(histories);
  PathHistory scratch;
  for (uint64_t i = histories; i > 0 && in.ok(); --i) {
    PathHistory* history = &scratch;
    if (build) {
      history = &history_[in.Text()];
    } else {
      in.SkipText();
      scratch.own.clear();
      scratch.moved_from.clear();
    }
    for (uint64_t j = in.Count(); j > 0 && in.ok(); --j) history->own.push_back(in.Position(from));
    for (uint64_t j = in.Count(); j > 0 && in.ok(); --j) {
      size_t k = in.Position(from);
      if (build) {
        history->moved_from.emplace_back(k, in.Text());
      } else {
        in.SkipText();
        history->moved_from.emplace_back(k, std::string());
      }
    }
    // Both lists are ascending: HistoryPositions stops at the first one past its cutoff.
    if (!std::is_sorted(history->own.begin(), history->own.end()) ||
        !std::is_sorted(history->moved_from.begin(), history->moved_from.end(),
                        [](const auto& a, const auto& b) { return a.first < b.first; })) {
      return false;
    }
  }
  if (heads_at != nullptr) *heads_at = in.Offset();
  const uint64_t head_paths = in.Count();
  if (build) heads_.reserve(head_paths);
  for (uint64_t i = head_paths; i > 0 && in.ok(); --i) {
    Heads* heads = nullptr;
    if (build) {
      std::string path = in.Text();
      auto [it, fresh] = heads_.try_emplace(std::move(path));
      if (fresh) heads = &it->second;  // conflicted paths' heads were built already
    } else {
      in.SkipText();
    }
    for (uint64_t j = in.Count(); j > 0 && in.ok(); --j) {
      size_t k = in.Position(from);
      if (heads != nullptr && in.ok()) AddHead(*heads, k);
    }
  }
  return in.ok();
}

void FilesReading::LoadDeferred() const {
  if (!deferred_) return;
  std::call_once(deferred_->parsed, [this] {
    StateReader in(deferred_->state);
    in.Seek(deferred_->at);
    // Checked by RestoreState already; this cannot fail.
    (void)ReadDeferredSections(in, deferred_->from, true, nullptr);
    std::string().swap(deferred_->state);
  });
}

bool FilesReading::RestoreState(std::string_view state, size_t from) {
  constexpr size_t kSumSize = sizeof(Hash256::bytes);
  if (state.size() < kStateMagic.size() + kSumSize || !state.starts_with(kStateMagic)) return false;
  std::string_view body = state.substr(0, state.size() - kSumSize);
  Hash256 sum = crypto::Sha256(AsBytes(body));
  if (std::memcmp(sum.bytes.data(), state.data() + body.size(), kSumSize) != 0) return false;

  std::string_view data = body.substr(kStateMagic.size());
  StateReader in(data);
  if (in.Number() != from) return false;
  max_timestamp_ = in.Signed();
  for (uint64_t i = in.Count(); i > 0 && in.ok(); --i) {
    std::string path = in.Text();
    FileEntry entry;
    uint64_t kind = in.Number();
    if (kind > 1) return false;
    entry.content.kind = kind == 1 ? ContentRef::Kind::kManifest : ContentRef::Kind::kSingle;
    entry.content.hash = in.Hash();
    std::string key = in.Text();
    entry.wrapped_key.assign(key.begin(), key.end());
    entry.modified_ms = in.Signed();
    if (in.Number() == 1) entry.mime_type = in.Text();
    entry.origin_event = in.Hash();
    // Saved in the map's order: each lands at the end (a hint, not a search).
    files_.emplace_hint(files_.end(), std::move(path), std::move(entry));
  }
  for (uint64_t i = in.Count(); i > 0 && in.ok(); --i) {
    explicit_dirs_.insert(explicit_dirs_.end(), in.Text());
  }
  // The deferred sections are checked now (a state found bad later could
  // no longer be rejected for an older one) and built on first use; only
  // the heads of conflicted paths are built now (conflicts() needs them).
  const size_t deferred_at = in.Offset();
  size_t heads_at = 0;
  if (!ReadDeferredSections(in, from, false, &heads_at)) return false;
  for (uint64_t i = in.Count(); i > 0 && in.ok(); --i) conflicted_paths_.insert(in.Text());
  if (!in.ok() || !in.AtEnd()) return false;
  const size_t end = in.Offset();
  in.Seek(heads_at);
  for (uint64_t i = in.Count(); i > 0 && in.ok(); --i) {
    std::string path = in.Text();
    const bool conflicted = conflicted_paths_.count(path) > 0;
    Heads* heads = conflicted ? &heads_[std::move(path)] : nullptr;
    for (uint64_t j = in.Count(); j > 0 && in.ok(); --j) {
      size_t k = in.Position(from);
      if (heads != nullptr && in.ok()) AddHead(*heads, k);
    }
  }
  for (const auto& path : conflicted_paths_) {
    if (!heads_.count(path)) return false;
  }
  in.Seek(end);
  deferred_ = std::make_unique<Deferred>();
  deferred_->state = std::string(data);
  deferred_->at = deferred_at;
  deferred_->from = from;
  if (!in.ok() || !in.AtEnd()) return false;

  folded_ = from;
  for (size_t k = 0; k < from; ++k) {
    if (nodes_[k].files) files_order_.push_back(nodes_[k].hash);
  }
  return true;
}

}  // namespace nb::apps::files
