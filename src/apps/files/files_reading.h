// The FILES reading (FORMAT.md §5, ordered reading "nb.files.v0.5"): the
// hub's file tree rebuilt by replaying FILES events in canonical order.
//
// Canonical order: a topological sort over parent edges (an event's
// blockRefs[0] when it names another decoded event of the hub); among ready
// events the smallest timestamp first, then the smallest event hash. Every
// FILES event takes part, with any other event a FILES event names as its
// parent; only FILES events change the tree. (The other events have no
// edges, so leaving them out changes no relative order.)
// The same set of events gives the same tree, whatever the arrival order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "apps/files/content_ref.h"
#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"

namespace nb::apps::files {

using crypto::Hash256;

enum class FileOp { kCreateFile, kMkdir, kDelete, kRename };
const char* FileOpName(FileOp op);

struct FilesEvent {
  FileOp op = FileOp::kMkdir;
  std::string path;                   // CREATE_FILE / MKDIR / DELETE path; RENAME fromPath
  std::string to_path;                // RENAME toPath
  std::optional<ContentRef> content;  // CREATE_FILE
  Bytes wrapped_key;                  // CREATE_FILE; empty = legacy hub-key block
  std::optional<std::string> mime_type;
  // False when a path or the content descriptor is malformed: the event
  // keeps its place in the order but changes nothing.
  bool usable = true;
};

// One decoded event of the hub, as the replay needs it.
struct DecodedEvent {
  Hash256 hash;
  int64_t timestamp = 0;
  std::vector<Hash256> block_refs;
  std::optional<FilesEvent> files;  // set for FILES payload types
  std::string app_payload;          // the payload JSON of other types (chat, profiles)
};

// Bounds on an inner payload (the decrypted JSON of any event), rules of
// every reading: a payload beyond them is undecodable and skipped, like one
// that is not JSON. Payloads are small (a FILES event with the longest path
// is under 10 kB; a chat message or profile record a few kB), so 1 MiB
// leaves room for long chat messages; 64 levels is far beyond the 3 to 4
// that any payload uses.
constexpr size_t kMaxPayloadBytes = 1 << 20;
constexpr size_t kMaxPayloadJsonDepth = 64;

// Decodes an inner payload. nullopt if it is not JSON with a "type" and an
// integer timestamp (such an event cannot be ordered and is skipped), or
// goes beyond the bounds above.
std::optional<DecodedEvent> DecodeEvent(const Hash256& hash, const std::vector<Hash256>& block_refs,
                                        std::string_view payload_json);

// Limits of the FILES reading (docs/format-notes.md, "Limits of the FILES
// reading"). They are rules of the reading, the same on every machine: an
// event whose path goes beyond one is unusable for FILES, exactly like a
// malformed path, so the same facts give the same tree everywhere. They
// bound what one event can cost every reader: each path operation touches
// at most kMaxHubPathDepth ancestors of at most kMaxHubPathBytes each.
constexpr size_t kMaxHubPathBytes = 4096;         // Linux PATH_MAX
constexpr size_t kMaxHubPathSegmentBytes = 1024;  // 255 characters of any script
constexpr size_t kMaxHubPathDepth = 256;          // segments

// FORMAT.md §5 path rules plus the limits above.
bool IsValidHubPath(std::string_view path);
// Why a path is not valid (one line for the person who typed it); nullopt
// if it is valid.
std::optional<std::string> HubPathProblem(std::string_view path);

struct FileEntry {
  ContentRef content;
  Bytes wrapped_key;
  int64_t modified_ms = 0;  // createdAt of the CREATE_FILE that produced it
  std::optional<std::string> mime_type;
  Hash256 origin_event;  // that CREATE_FILE (survives renames)
};

struct DirEntry {
  std::string path;
  bool explicit_dir = false;
};

// A path where FILES events that did not see each other both wrote. The
// live version is the one later in canonical order; the others stay
// readable through their event hashes. An event "saw" another if it descends
// from it through parent links or names it in its blockRefs; a write to the
// path that saw every head resolves the conflict.
struct Conflict {
  std::string path;
  Hash256 live_event;
  std::vector<Hash256> other_events;
};

// One event in a path's history.
struct PathVersion {
  Hash256 event;
  FileOp op;
  int64_t timestamp = 0;
  std::string path;     // the path the event named (RENAME: from)
  std::string to_path;  // RENAME only
  std::optional<ContentRef> content;
  Bytes wrapped_key;  // CREATE_FILE: the content's key, as FileEntry
};

// What the canonical order needs of an event.
struct OrderNode {
  Hash256 hash;
  int64_t timestamp = 0;
  std::optional<Hash256> parent;  // blockRefs[0] of a FILES event
  bool files = false;             // a FILES event (only those change the tree)
};
// The canonical order of distinct events: indexes into `nodes`.
std::vector<size_t> CanonicalOrder(const std::vector<OrderNode>& nodes);
// Keeps what the FILES order depends on: FILES events and the events they
// name as parents. Other events change nothing and, having neither parent
// nor child, leave the relative order of the rest as it is.
std::vector<OrderNode> FilesOrderNodes(std::vector<OrderNode> nodes);

// Looks up a decoded event by hash (the persisted engine reads it from the
// local state; an in-memory replay keeps every event it folded).
using EventLookup = std::function<std::optional<DecodedEvent>(const Hash256&)>;

class StateReader;  // the saved state's decoder (files_reading.cc)

class FilesReading {
 public:
  // Replays a set of decoded events (any order, duplicates ignored).
  static FilesReading Replay(std::vector<DecodedEvent> events);
  // Called before the event at `position` is folded in: the persisted
  // engine takes its snapshots here (SaveState).
  using Checkpoint = std::function<void(size_t position, const FilesReading& reading)>;
  // The persisted engine's entry. `ordered` is a canonical order (of
  // FilesOrderNodes); `state` is SaveState() of a reading over the same
  // first `from` events (empty with from = 0); `fold` holds the events at
  // positions [from, n) in order. Fails if the state does not fit.
  static Result<FilesReading> Resume(const std::vector<OrderNode>& ordered, size_t from,
                                     std::string_view state, std::vector<DecodedEvent> fold,
                                     EventLookup lookup, const Checkpoint& checkpoint = nullptr);
  // The fold state after every event so far, for Resume.
  std::string SaveState() const;

  // Folds in an event this process just appended. Its parent is the observed
  // head, so it is last among FILES events and the result equals a replay.
  void AppendLocal(DecodedEvent event);

  const std::map<std::string, FileEntry>& files() const { return files_; }
  const std::set<std::string>& explicit_dirs() const { return explicit_dirs_; }
  // All live directories, explicit or implied by a live file below them.
  std::vector<DirEntry> Directories() const;
  bool IsFile(std::string_view path) const { return files_.count(std::string(path)) > 0; }
  bool IsDirectory(std::string_view path) const;

  // Hashes of every FILES event in canonical order.
  const std::vector<Hash256>& files_order() const { return files_order_; }
  // The ordered events (FILES events and their parents), in canonical order.
  size_t size() const { return nodes_.size(); }
  // The order as Resume takes it; a parent is set only when it is part of
  // the order (Resume ignores any other).
  std::vector<OrderNode> OrderNodes() const;
  const Hash256& HashAt(size_t position) const { return nodes_[position].hash; }
  // blockRefs[0] for the next FILES event: the last FILES event in order.
  std::optional<Hash256> observed_head() const;
  // Largest timestamp in the timeline (RENAME must go past it).
  int64_t max_timestamp() const { return max_timestamp_; }
  // Last FILES event that named `path` (as path, fromPath or toPath).
  std::optional<Hash256> LastEventAt(std::string_view path) const;

  // Sorted by path.
  const std::vector<Conflict>& conflicts() const { return conflicts_; }
  // The losing heads at `path`, which a new write there names to resolve it.
  std::vector<Hash256> ConflictingEvents(std::string_view path) const;
  // Events that named `path`, in canonical order.
  std::vector<PathVersion> History(std::string_view path) const;
  // The event with this hash, if it is part of the order.
  std::optional<DecodedEvent> FindEvent(const Hash256& hash) const;

 private:
  struct Heads {
    std::set<size_t> positions;
    std::map<uint32_t, size_t> by_enter;  // the heads that have an interval
  };
  struct Node {
    Hash256 hash;
    int64_t timestamp = 0;
    size_t parent = SIZE_MAX;  // position; SIZE_MAX: none
    bool files = false;
  };
  // Positions and DFS intervals of `ordered` (canonical order).
  void BuildNodes(const std::vector<OrderNode>& ordered);
  bool RestoreState(std::string_view state, size_t from);
  void Apply(size_t k, const DecodedEvent& event);
  void NoteTouched(const std::string& path, size_t k, const std::vector<Hash256>& refs);
  std::vector<size_t> HistoryPositions(const std::string& path) const;
  void RemoveSubtree(const std::string& path);
  void AddHead(Heads& heads, size_t k) const;
  void DropHead(Heads& heads, size_t k);
  void RemoveFileAncestors(const std::string& path);
  bool IsAncestor(size_t maybe_ancestor, size_t node) const;
  size_t AncestorAtDepth(size_t node, uint32_t depth) const;
  void SetJump(size_t k, size_t parent);
  void FinishConflicts();
  void RefreshConflict(const std::string& path);

  std::vector<Node> nodes_;  // canonical order; positions below refer to it
  std::unordered_map<Hash256, size_t> index_;
  // Causality: parent links form a forest; DFS intervals answer "ancestor of"
  // for the ordered events. Events appended after the replay have no
  // interval: depth and skew-binary jump links (O(log n) level-ancestor
  // queries) answer for them, and anchor_ is their nearest ancestor that has
  // an interval. (A walk up the parent links would make n appends cost n².)
  std::vector<uint32_t> enter_, leave_;
  std::vector<uint32_t> depth_;
  std::vector<size_t> jump_;
  std::unordered_map<size_t, size_t> anchor_;  // appended event -> position or SIZE_MAX
  size_t first_appended_ = 0;                  // positions from here on have no interval
  // Event details (History, FindEvent): an in-memory replay keeps every
  // event it folded; a resumed reading looks them up in the local state and
  // keeps only the events appended through it.
  std::unordered_map<Hash256, DecodedEvent> details_;
  EventLookup lookup_;

  // The fold state (what SaveState keeps), after the first `folded_` events.
  size_t folded_ = 0;
  std::map<std::string, FileEntry> files_;
  std::set<std::string> explicit_dirs_;
  int64_t max_timestamp_ = 0;
  // last_event_at_, history_ and heads_ (but the heads of conflicted paths)
  // of a restored state are parsed on first use (LoadDeferred): a command
  // that only reads the tree (ls, get, conflicts) never needs them, and
  // building them was most of opening a large hub. Hence `mutable`.
  mutable std::unordered_map<std::string, size_t> last_event_at_;
  // A path's history: the events that named it, and the histories it took
  // over when a RENAME moved another path onto it (that path's history up
  // to the RENAME). Links, not copies: copying would make a chain of n
  // renames cost n² time and memory.
  struct PathHistory {
    std::vector<size_t> own;                                 // ascending
    std::vector<std::pair<size_t, std::string>> moved_from;  // (RENAME position, old path)
  };
  mutable std::unordered_map<std::string, PathHistory> history_;
  // Concurrent heads per path, ascending positions. They form an antichain
  // (no head is an ancestor of another), so their DFS intervals are
  // disjoint and at most one of them is an ancestor of a new event: the one
  // with the largest interval start not after the event's (by_enter).
  mutable std::unordered_map<std::string, Heads> heads_;
  std::set<std::string> conflicted_paths_;
  // What RestoreState left for LoadDeferred: the state's bytes (already
  // checked) and where the deferred sections start in them.
  struct Deferred {
    std::once_flag parsed;
    std::string state;
    size_t at = 0;
    size_t from = 0;
  };
  mutable std::unique_ptr<Deferred> deferred_;
  void LoadDeferred() const;
  bool ReadDeferredSections(StateReader& in, size_t from, bool build, size_t* heads_at) const;

  // Derived from the above.
  std::vector<Hash256> files_order_;
  std::vector<Conflict> conflicts_;
};

}  // namespace nb::apps::files
