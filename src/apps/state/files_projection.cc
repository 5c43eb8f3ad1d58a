#include "apps/state/files_projection.h"

#include "crypto/sha256.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace nb::apps::state {
namespace {

using files::DecodedEvent;
using files::FilesReading;
using files::OrderNode;

// A packed order: the SHA-256 of what follows and of the packed outside
// parents stored beside it (a damaged database is never trusted), then per
// node: hash (32), timestamp (8, little-endian), parent
// position (4, little-endian; kNoParent: none), flags (1; bit 0: FILES).
constexpr size_t kNodeBytes = 45;
constexpr uint32_t kNoParent = 0xffffffff;
// A packed outside parent: hash (32), present (1: a decodable event).
constexpr size_t kOutsideBytes = 33;

std::string PackNodes(const std::vector<OrderNode>& ordered, const std::string& outside) {
  std::unordered_map<crypto::Hash256, uint32_t> position;
  position.reserve(ordered.size());
  std::string out(32 + ordered.size() * kNodeBytes, '\0');
  for (size_t k = 0; k < ordered.size(); ++k) {
    const OrderNode& node = ordered[k];
    char* at = out.data() + 32 + k * kNodeBytes;
    std::memcpy(at, node.hash.bytes.data(), 32);
    auto ts = static_cast<uint64_t>(node.timestamp);
    for (int b = 0; b < 8; ++b) at[32 + b] = static_cast<char>(ts >> (8 * b));
    uint32_t parent = kNoParent;
    if (node.parent) {
      auto it = position.find(*node.parent);
      if (it != position.end()) parent = it->second;
    }
    for (int b = 0; b < 4; ++b) at[40 + b] = static_cast<char>(parent >> (8 * b));
    at[44] = node.files ? 1 : 0;
    position.emplace(node.hash, static_cast<uint32_t>(k));
  }
  crypto::Sha256Stream summing;
  summing.Update(AsBytes(std::string_view(out).substr(32)));
  summing.Update(AsBytes(outside));
  crypto::Hash256 sum = summing.Finish();
  std::memcpy(out.data(), sum.bytes.data(), 32);
  return out;
}

// The nodes of a packed order; nullopt if it is damaged in any way.
std::optional<std::vector<OrderNode>> UnpackNodes(ByteSpan packed, ByteSpan outside) {
  if (packed.size() < 32 || (packed.size() - 32) % kNodeBytes != 0) return std::nullopt;
  ByteSpan body = packed.subspan(32);
  crypto::Sha256Stream summing;
  summing.Update(body);
  summing.Update(outside);
  crypto::Hash256 sum = summing.Finish();
  if (!std::equal(sum.bytes.begin(), sum.bytes.end(), packed.begin())) return std::nullopt;
  std::vector<OrderNode> out;
  const size_t count = body.size() / kNodeBytes;
  out.reserve(count);
  for (size_t k = 0; k < count; ++k) {
    const uint8_t* at = body.data() + k * kNodeBytes;
    OrderNode node;
    std::memcpy(node.hash.bytes.data(), at, 32);
    uint64_t ts = 0;
    for (int b = 0; b < 8; ++b) ts |= static_cast<uint64_t>(at[32 + b]) << (8 * b);
    node.timestamp = static_cast<int64_t>(ts);
    uint32_t parent = 0;
    for (int b = 0; b < 4; ++b) parent |= static_cast<uint32_t>(at[40 + b]) << (8 * b);
    if (at[44] > 1 || (parent != kNoParent && parent >= k)) return std::nullopt;
    node.files = at[44] == 1;
    if (parent != kNoParent) node.parent = out[parent].hash;
    out.push_back(node);
  }
  return out;
}

// Sorted, without duplicates.
std::string PackOutside(std::vector<std::pair<crypto::Hash256, bool>> entries) {
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  std::string out;
  out.reserve(entries.size() * kOutsideBytes);
  for (const auto& [hash, present] : entries) {
    out.append(reinterpret_cast<const char*>(hash.bytes.data()), 32);
    out.push_back(present ? 1 : 0);
  }
  return out;
}

// The parents FILES events name that are not FILES events themselves (a
// parent of another kind, or one the index lacks), sorted and packed: the
// order depends on them, and the FILES epoch does not count them.
std::string OutsideParents(const std::vector<OrderNode>& nodes) {
  std::unordered_set<crypto::Hash256> files_hashes, other_hashes;
  for (const auto& node : nodes) (node.files ? files_hashes : other_hashes).insert(node.hash);
  std::vector<std::pair<crypto::Hash256, bool>> outside;
  for (const auto& node : nodes) {
    if (!node.files || !node.parent || files_hashes.count(*node.parent)) continue;
    outside.emplace_back(*node.parent, other_hashes.count(*node.parent) > 0);
  }
  return PackOutside(std::move(outside));
}

// Whether each outside parent is still as present (or absent) as when the
// stored order was computed.
Result<bool> OutsideUnchanged(StateDb& db, const std::string& hub, ByteSpan packed) {
  if (packed.size() % kOutsideBytes != 0) return false;
  if (packed.empty()) return true;
  NB_ASSIGN_OR_RETURN(Statement get, db.Prepare("SELECT 1 FROM events WHERE hub=? AND hash=? AND "
                                                "payload IS NOT NULL"));
  for (size_t at = 0; at < packed.size(); at += kOutsideBytes) {
    get.Bind(1, hub).BindBlob(2, packed.subspan(at, 32));
    NB_ASSIGN_OR_RETURN(bool present, get.Step());
    get.Reset();
    if (present != (packed[at + 32] == 1)) return false;
  }
  return true;
}

// Adds parents that must stay absent to a packed outside list; false if
// one of them is a decodable event after all (the order would differ).
Result<bool> AddAbsentParents(StateDb& db, const std::string& hub,
                              const std::vector<crypto::Hash256>& absent, std::string* outside) {
  NB_ASSIGN_OR_RETURN(Statement get, db.Prepare("SELECT 1 FROM events WHERE hub=? AND hash=? AND "
                                                "payload IS NOT NULL"));
  std::vector<std::pair<crypto::Hash256, bool>> entries;
  for (size_t at = 0; at + kOutsideBytes <= outside->size(); at += kOutsideBytes) {
    crypto::Hash256 hash;
    std::memcpy(hash.bytes.data(), outside->data() + at, 32);
    entries.emplace_back(hash, (*outside)[at + 32] == 1);
  }
  for (const auto& hash : absent) {
    get.Bind(1, hub).BindBlob(2, hash.bytes);
    NB_ASSIGN_OR_RETURN(bool present, get.Step());
    get.Reset();
    if (present) return false;
    entries.emplace_back(hash, false);
  }
  *outside = PackOutside(std::move(entries));
  return true;
}

// What was stored by the last load or write, read in one transaction so
// another process's write is seen whole or not at all.
struct Stored {
  std::vector<OrderNode> order;
  // The FILES epoch `order` was computed at; -1: unknown (or damaged).
  int64_t epoch = -1;
  std::string outside;
  std::vector<size_t> state_positions;  // ascending
  int64_t generation = 0;
};

std::string GenerationKey(const std::string& hub) { return "files_generation:" + hub; }

Result<int64_t> ReadMetaInt(StateDb& db, const std::string& key) {
  NB_ASSIGN_OR_RETURN(Statement get, db.Prepare("SELECT value FROM meta WHERE key=?"));
  get.Bind(1, key);
  NB_ASSIGN_OR_RETURN(bool row, get.Step());
  return row ? get.Int(0) : int64_t{0};
}

Result<int64_t> ReadGeneration(StateDb& db, const std::string& hub) {
  return ReadMetaInt(db, GenerationKey(hub));
}

// Bumped by the database's triggers whenever a FILES event enters or
// leaves the index (state_db.cc).
Result<int64_t> ReadFilesEpoch(StateDb& db, const std::string& hub) {
  return ReadMetaInt(db, "files_epoch:" + hub);
}

// Inside the caller's read transaction.
Result<Stored> ReadStored(StateDb& db, const std::string& hub) {
  Stored stored;
  NB_ASSIGN_OR_RETURN(stored.generation, ReadGeneration(db, hub));
  NB_ASSIGN_OR_RETURN(Statement nodes,
                      db.Prepare("SELECT epoch, nodes, outside FROM files_nodes WHERE hub=?"));
  nodes.Bind(1, hub);
  NB_ASSIGN_OR_RETURN(bool has_nodes, nodes.Step());
  if (has_nodes) {
    // A damaged order is not trusted at all: everything is recomputed.
    if (auto order = UnpackNodes(nodes.Blob(1), nodes.Blob(2))) {
      stored.order = std::move(*order);
      stored.epoch = nodes.Int(0);
      stored.outside = std::string(AsChars(nodes.Blob(2)));
    }
  }
  NB_ASSIGN_OR_RETURN(Statement states,
                      db.Prepare("SELECT pos FROM files_state WHERE hub=? ORDER BY pos"));
  states.Bind(1, hub);
  for (;;) {
    NB_ASSIGN_OR_RETURN(bool row, states.Step());
    if (!row) break;
    if (states.Int(0) >= 0) stored.state_positions.push_back(static_cast<size_t>(states.Int(0)));
  }
  return stored;
}

Status PutNodes(StateDb& db, const std::string& hub, int64_t epoch,
                const std::vector<OrderNode>& ordered, const std::string& outside) {
  const std::string nodes = PackNodes(ordered, outside);
  NB_ASSIGN_OR_RETURN(Statement put,
                      db.Prepare("INSERT OR REPLACE INTO files_nodes(hub, epoch, nodes, outside) "
                                 "VALUES(?, ?, ?, ?)"));
  return put.Bind(1, hub)
      .Bind(2, epoch)
      .BindBlob(3, AsBytes(nodes))
      .BindBlob(4, AsBytes(outside))
      .Run();
}

Status BumpGeneration(StateDb& db, const std::string& hub, int64_t generation) {
  NB_ASSIGN_OR_RETURN(Statement bump,
                      db.Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
  return bump.Bind(1, GenerationKey(hub)).Bind(2, generation + 1).Run();
}

// The state at `position`, if the stored projection is still the one of
// `generation` (one statement: another process's write is seen whole or not
// at all). Empty otherwise, which Resume rejects like a damaged state.
Result<std::string> ReadState(StateDb& db, const std::string& hub, size_t position,
                              int64_t generation) {
  NB_ASSIGN_OR_RETURN(Statement get,
                      db.Prepare("SELECT state FROM files_state WHERE hub=? AND pos=? AND "
                                 "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key=?), "
                                 "0)=?"));
  get.Bind(1, hub)
      .Bind(2, static_cast<int64_t>(position))
      .Bind(3, GenerationKey(hub))
      .Bind(4, generation);
  NB_ASSIGN_OR_RETURN(bool row, get.Step());
  if (!row) return std::string();
  return std::string(AsChars(get.Blob(0)));
}

// The events at positions [from, n) of `ordered`, decoded from the index.
Result<std::vector<DecodedEvent>> LoadFold(EventIndex& index, const std::vector<OrderNode>& ordered,
                                           size_t from) {
  // Many events: one pass over the FILES rows beats a lookup each.
  constexpr size_t kBulkAbove = 2048;
  std::unordered_map<crypto::Hash256, DecodedEvent> bulk;
  const size_t count = ordered.size() - from;
  if (count > kBulkAbove) {
    NB_ASSIGN_OR_RETURN(auto all, index.LoadAll(kKindFiles));
    bulk.reserve(all.size());
    for (auto& event : all) bulk.emplace(event.hash, std::move(event));
  }
  std::vector<DecodedEvent> fold;
  fold.reserve(count);
  for (size_t k = from; k < ordered.size(); ++k) {
    const OrderNode& node = ordered[k];
    if (!node.files) {
      // A parent that is not a FILES event: only its place matters.
      DecodedEvent placeholder;
      placeholder.hash = node.hash;
      placeholder.timestamp = node.timestamp;
      fold.push_back(std::move(placeholder));
      continue;
    }
    std::optional<DecodedEvent> event;
    if (count > kBulkAbove) {
      auto it = bulk.find(node.hash);
      if (it != bulk.end()) event = std::move(it->second);
    } else {
      NB_ASSIGN_OR_RETURN(event, index.LoadOne(node.hash));
    }
    if (!event || !event->files) {
      return MakeError(ErrorCode::kInternal, "files projection: event " +
                                                 node.hash.Hex().substr(0, 16) +
                                                 " left the index while loading");
    }
    fold.push_back(std::move(*event));
  }
  return fold;
}

// Replaces stored states: keeps those at multiples of the checkpoint
// interval that are still valid (at or before `valid_up_to`) and among the
// latest of an order of `order_size` positions, drops the rest, and stores
// `states` (position, SaveState()). Inside the caller's write transaction.
Status ReplaceStates(StateDb& db, const std::string& hub, size_t order_size, size_t valid_up_to,
                     const std::vector<std::pair<size_t, std::string>>& states,
                     const FilesProjectionOptions& options) {
  const auto interval = static_cast<int64_t>(std::max<size_t>(options.checkpoint_interval, 1));
  const int64_t oldest_kept =
      static_cast<int64_t>(order_size) - interval * static_cast<int64_t>(options.checkpoints_kept);
  NB_ASSIGN_OR_RETURN(Statement drop_states,
                      db.Prepare("DELETE FROM files_state WHERE hub=? AND (pos>? OR pos%?!=0 "
                                 "OR pos<?)"));
  NB_RETURN_IF_ERROR(drop_states.Bind(1, hub)
                         .Bind(2, static_cast<int64_t>(valid_up_to))
                         .Bind(3, interval)
                         .Bind(4, oldest_kept)
                         .Run());
  NB_ASSIGN_OR_RETURN(
      Statement put_state,
      db.Prepare("INSERT OR REPLACE INTO files_state(hub, pos, state) VALUES(?, ?, ?)"));
  for (const auto& [position, state] : states) {
    put_state.Bind(1, hub).Bind(2, static_cast<int64_t>(position)).BindBlob(3, AsBytes(state));
    NB_RETURN_IF_ERROR(put_state.Run());
  }
  return Status::Ok();
}

// Replaces what the projection stored, unless another process stored a
// newer one since `stored` was read (then that one stands). `states` empty:
// only the order is written (the states stored stay valid: the order's
// first `same` positions are unchanged and none lies beyond them).
// True if it stored; false if another process had stored first.
Result<bool> WriteBack(StateDb& db, const std::string& hub, const Stored& stored,
                       const std::vector<OrderNode>& ordered, int64_t epoch,
                       const std::string& outside, size_t same,
                       const std::vector<std::pair<size_t, std::string>>& states,
                       const FilesProjectionOptions& options) {
  StateDb::Transaction txn(&db);
  NB_ASSIGN_OR_RETURN(int64_t generation, ReadGeneration(db, hub));
  if (generation != stored.generation) return false;
  NB_RETURN_IF_ERROR(PutNodes(db, hub, epoch, ordered, outside));

  if (!states.empty()) {
    NB_RETURN_IF_ERROR(ReplaceStates(db, hub, ordered.size(), same, states, options));
  }
  NB_RETURN_IF_ERROR(BumpGeneration(db, hub, generation));
  NB_RETURN_IF_ERROR(txn.Commit());
  return true;
}

}  // namespace

Result<FilesReading> LoadFilesReading(EventIndex& index, const FilesProjectionOptions& options,
                                      FilesProjectionReport* report) {
  StateDb& db = *index.db();
  const std::string& hub = index.hub_id();
  const size_t interval = std::max<size_t>(options.checkpoint_interval, 1);
  FilesProjectionReport local_report;
  FilesProjectionReport& out = report ? *report : local_report;
  out = FilesProjectionReport{};

  // One read transaction: the stored projection, the FILES epoch and (when
  // the stored order is not proven current) the index's order keys are one
  // snapshot, so `epoch` is exactly the epoch of `ordered`.
  Stored stored;
  std::vector<OrderNode> ordered;
  int64_t epoch = 0;
  std::string outside;
  NB_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto read = [&]() -> Status {
    NB_ASSIGN_OR_RETURN(stored, ReadStored(db, hub));
    NB_ASSIGN_OR_RETURN(epoch, ReadFilesEpoch(db, hub));
    // Same epoch and the same outside parents: the same inputs, so the
    // same canonical order, without reading the index or sorting it.
    if (stored.epoch == epoch) {
      NB_ASSIGN_OR_RETURN(out.order_trusted, OutsideUnchanged(db, hub, AsBytes(stored.outside)));
    }
    if (out.order_trusted) {
      ordered = std::move(stored.order);  // not looked at again when trusted
      outside = stored.outside;
      return Status::Ok();
    }
    NB_ASSIGN_OR_RETURN(std::vector<OrderNode> nodes, index.FilesOrderKeys());
    outside = OutsideParents(nodes);
    ordered.reserve(nodes.size());
    for (size_t i : files::CanonicalOrder(nodes)) ordered.push_back(nodes[i]);
    return Status::Ok();
  };
  Status status = read();
  (void)db.Exec(status.ok() ? "COMMIT" : "ROLLBACK");
  if (!status.ok()) return status.error();
  const size_t n = ordered.size();
  out.events = n;

  size_t same = 0;  // the first position where the stored order differs
  if (out.order_trusted) {
    same = n;
  } else {
    while (same < n && same < stored.order.size() &&
           stored.order[same].hash == ordered[same].hash) {
      ++same;
    }
  }
  // The stored row already says all there is to say about this order.
  const bool order_stored =
      out.order_trusted ||
      (same == n && stored.order.size() == n && stored.epoch == epoch && stored.outside == outside);

  files::EventLookup lookup = [&index](const crypto::Hash256& hash) {
    auto event = index.LoadOne(hash);
    return event.ok() ? std::move(*event) : std::nullopt;
  };

  // The latest stored state at or before the first change; an unreadable
  // one is passed over for the one before it, and in the end for none.
  std::vector<size_t> candidates;
  for (size_t position : stored.state_positions) {
    if (position <= same) candidates.push_back(position);
  }
  std::vector<std::pair<size_t, std::string>> checkpoints;
  const size_t oldest_checkpoint =
      n > interval * options.checkpoints_kept ? n - interval * options.checkpoints_kept : 0;
  auto take_checkpoint = [&](size_t position, const FilesReading& reading) {
    if (position % interval == 0 && position >= oldest_checkpoint && position > 0) {
      checkpoints.emplace_back(position, reading.SaveState());
    }
  };
  for (;;) {
    size_t from = candidates.empty() ? 0 : candidates.back();
    std::string state;
    if (!candidates.empty()) {
      NB_ASSIGN_OR_RETURN(state, ReadState(db, hub, from, stored.generation));
    }
    NB_ASSIGN_OR_RETURN(std::vector<DecodedEvent> fold, LoadFold(index, ordered, from));
    checkpoints.clear();
    auto reading =
        FilesReading::Resume(ordered, from, state, std::move(fold), lookup, take_checkpoint);
    if (!reading.ok()) {
      if (candidates.empty() || reading.error().code != ErrorCode::kCorrupt) {
        return reading.error();
      }
      out.state_rejected = true;
      candidates.pop_back();
      same = std::min(same, from);  // rewrite what followed that state too
      continue;
    }
    out.resumed_at = from;
    out.folded = n - from;
    const FilesProjectionOptions write_options{interval, options.checkpoints_kept,
                                               options.tail_folded_on_load};
    // Nothing changed, or only a short tail after the stored state: no
    // state to write (the next load folds the tail again), at most the
    // order, so that the next load trusts it.
    if (!out.state_rejected && n - from <= options.tail_folded_on_load) {
      if (order_stored) {
        out.mark = FilesProjectionMark{true, stored.generation, from, n, epoch};
        return reading;
      }
      auto written = WriteBack(db, hub, stored, ordered, epoch, outside, same, {}, write_options);
      if (written.ok() && *written) {
        out.mark = FilesProjectionMark{true, stored.generation + 1, from, n, epoch};
      }
      return reading;
    }
    if (n > 0) checkpoints.emplace_back(n, reading->SaveState());
    // The reading is right whatever happens here; a state that cannot be
    // saved (a read-only or busy database) is only rebuilt next time.
    auto written =
        WriteBack(db, hub, stored, ordered, epoch, outside, same, checkpoints, write_options);
    if (written.ok() && *written)
      out.mark = FilesProjectionMark{true, stored.generation + 1, n, n, epoch};
    return reading;
  }
}

Status SaveFilesReading(EventIndex& index, const files::FilesReading& reading,
                        FilesProjectionMark& mark, const FilesProjectionOptions& options) {
  const size_t n = reading.size();
  if (!mark.valid || n <= mark.order_size) return Status::Ok();
  StateDb& db = *index.db();
  const std::string& hub = index.hub_id();

  StateDb::Transaction txn(&db);
  NB_ASSIGN_OR_RETURN(int64_t generation, ReadGeneration(db, hub));
  if (generation != mark.generation) {
    mark.valid = false;  // another process stored its own; ours is no longer the base
    return Status::Ok();
  }
  // The reading is the loaded order (at mark.epoch) plus the FILES events
  // this process appended and recorded in the index, each of which bumped
  // the epoch once. If the epoch moved by exactly that much, nobody else
  // changed the FILES events in between, and the order is current at this
  // epoch.
  std::vector<OrderNode> nodes = reading.OrderNodes();
  NB_ASSIGN_OR_RETURN(int64_t current, ReadFilesEpoch(db, hub));
  bool known = mark.epoch >= 0 && current == mark.epoch + static_cast<int64_t>(n - mark.order_size);
  std::string outside;
  if (known) {
    NB_ASSIGN_OR_RETURN(Statement get, db.Prepare("SELECT outside FROM files_nodes WHERE hub=?"));
    get.Bind(1, hub);
    NB_ASSIGN_OR_RETURN(bool row, get.Step());
    if (row) {
      outside = std::string(AsChars(get.Blob(0)));
    } else {
      known = false;
    }
  }
  // An appended event without a parent in the order (the hub's first FILES
  // event names its content first) depends on that hash staying no event.
  std::vector<crypto::Hash256> absent;
  for (size_t k = mark.order_size; known && k < n; ++k) {
    if (nodes[k].parent) continue;
    auto event = reading.FindEvent(nodes[k].hash);
    if (!event) {
      known = false;
    } else if (!event->block_refs.empty()) {
      absent.push_back(event->block_refs[0]);
    }
  }
  if (known && !absent.empty()) {
    NB_ASSIGN_OR_RETURN(known, AddAbsentParents(db, hub, absent, &outside));
  }
  NB_RETURN_IF_ERROR(PutNodes(db, hub, known ? current : -1, nodes, outside));

  // A short tail after the stored state is folded on each load, which
  // costs less than storing the whole state (a few bytes per file of the
  // hub) after every small write.
  size_t state_at = mark.state_position;
  if (n > mark.state_position + options.tail_folded_on_load) {
    // The checkpoints still valid (at or before the old end, at multiples
    // of the interval, among the latest) stay; the old live state goes.
    NB_RETURN_IF_ERROR(
        ReplaceStates(db, hub, n, mark.state_position, {{n, reading.SaveState()}}, options));
    state_at = n;
  }
  NB_RETURN_IF_ERROR(BumpGeneration(db, hub, generation));
  NB_RETURN_IF_ERROR(txn.Commit());
  mark = FilesProjectionMark{true, generation + 1, state_at, n, known ? current : -1};
  return Status::Ok();
}

}  // namespace nb::apps::state
