#include "apps/state/files_projection.h"

#include <unordered_map>

namespace nb::apps::state {
namespace {

using files::DecodedEvent;
using files::FilesReading;
using files::OrderNode;

// What was stored by the last load, read in one transaction so another
// process's write is seen whole or not at all.
struct Stored {
  std::vector<crypto::Hash256> order;
  std::vector<size_t> state_positions;  // ascending
  int64_t generation = 0;
};

std::string GenerationKey(const std::string& hub) { return "files_generation:" + hub; }

Result<int64_t> ReadGeneration(StateDb& db, const std::string& hub) {
  NB_ASSIGN_OR_RETURN(Statement get, db.Prepare("SELECT value FROM meta WHERE key=?"));
  get.Bind(1, GenerationKey(hub));
  NB_ASSIGN_OR_RETURN(bool row, get.Step());
  return row ? get.Int(0) : int64_t{0};
}

Result<Stored> ReadStored(StateDb& db, const std::string& hub) {
  Stored stored;
  NB_RETURN_IF_ERROR(db.Exec("BEGIN"));
  auto read = [&]() -> Status {
    NB_ASSIGN_OR_RETURN(stored.generation, ReadGeneration(db, hub));
    NB_ASSIGN_OR_RETURN(Statement order,
                        db.Prepare("SELECT pos, hash FROM files_order WHERE hub=? ORDER BY pos"));
    order.Bind(1, hub);
    for (;;) {
      NB_ASSIGN_OR_RETURN(bool row, order.Step());
      // A gap means a damaged table: what follows it is not trusted.
      if (!row || order.Int(0) != static_cast<int64_t>(stored.order.size())) break;
      stored.order.push_back(HashFromBlob(order.Blob(1)));
    }
    NB_ASSIGN_OR_RETURN(Statement states,
                        db.Prepare("SELECT pos FROM files_state WHERE hub=? ORDER BY pos"));
    states.Bind(1, hub);
    for (;;) {
      NB_ASSIGN_OR_RETURN(bool row, states.Step());
      if (!row) break;
      if (states.Int(0) >= 0) stored.state_positions.push_back(static_cast<size_t>(states.Int(0)));
    }
    return Status::Ok();
  };
  Status status = read();
  (void)db.Exec(status.ok() ? "COMMIT" : "ROLLBACK");
  if (!status.ok()) return status.error();
  return stored;
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

// Replaces what the projection stored, unless another process stored a
// newer one since `stored` was read (then that one stands).
// True if it stored; false if another process had stored first.
Result<bool> WriteBack(StateDb& db, const std::string& hub, const Stored& stored,
                       const std::vector<OrderNode>& ordered, size_t same,
                       const std::vector<std::pair<size_t, std::string>>& states,
                       const FilesProjectionOptions& options) {
  StateDb::Transaction txn(&db);
  NB_ASSIGN_OR_RETURN(int64_t generation, ReadGeneration(db, hub));
  if (generation != stored.generation) return false;

  NB_ASSIGN_OR_RETURN(Statement drop_order,
                      db.Prepare("DELETE FROM files_order WHERE hub=? AND pos>=?"));
  NB_RETURN_IF_ERROR(drop_order.Bind(1, hub).Bind(2, static_cast<int64_t>(same)).Run());
  NB_ASSIGN_OR_RETURN(Statement put_order,
                      db.Prepare("INSERT INTO files_order(hub, pos, hash) VALUES(?, ?, ?)"));
  for (size_t k = same; k < ordered.size(); ++k) {
    put_order.Bind(1, hub).Bind(2, static_cast<int64_t>(k)).BindBlob(3, ordered[k].hash.bytes);
    NB_RETURN_IF_ERROR(put_order.Run());
  }

  // Keep checkpoints at multiples of the interval that are still valid
  // (at or before the first change) and among the latest; drop the rest.
  const auto interval = static_cast<int64_t>(options.checkpoint_interval);
  const int64_t oldest_kept = static_cast<int64_t>(ordered.size()) -
                              interval * static_cast<int64_t>(options.checkpoints_kept);
  NB_ASSIGN_OR_RETURN(Statement drop_states,
                      db.Prepare("DELETE FROM files_state WHERE hub=? AND (pos>? OR pos%?!=0 OR "
                                 "pos<?)"));
  NB_RETURN_IF_ERROR(drop_states.Bind(1, hub)
                         .Bind(2, static_cast<int64_t>(same))
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

  NB_ASSIGN_OR_RETURN(Statement bump,
                      db.Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
  NB_RETURN_IF_ERROR(bump.Bind(1, GenerationKey(hub)).Bind(2, generation + 1).Run());
  NB_RETURN_IF_ERROR(txn.Commit());
  return true;
}

}  // namespace

Result<FilesReading> LoadFilesReading(EventIndex& index, const FilesProjectionOptions& options,
                                      FilesProjectionReport* report) {
  StateDb& db = *index.db();
  const std::string& hub = index.hub_id();
  const size_t interval = std::max<size_t>(options.checkpoint_interval, 1);

  NB_ASSIGN_OR_RETURN(std::vector<OrderNode> nodes, index.FilesOrderKeys());
  std::vector<OrderNode> ordered;
  ordered.reserve(nodes.size());
  for (size_t i : files::CanonicalOrder(nodes)) ordered.push_back(nodes[i]);
  nodes.clear();
  const size_t n = ordered.size();

  NB_ASSIGN_OR_RETURN(Stored stored, ReadStored(db, hub));
  size_t same = 0;  // the first position where the stored order differs
  while (same < n && same < stored.order.size() && stored.order[same] == ordered[same].hash) ++same;

  files::EventLookup lookup = [&index](const crypto::Hash256& hash) {
    auto event = index.LoadOne(hash);
    return event.ok() ? std::move(*event) : std::nullopt;
  };
  FilesProjectionReport local_report;
  FilesProjectionReport& out = report ? *report : local_report;
  out = FilesProjectionReport{};
  out.events = n;

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
    // Nothing changed, or only a short tail appended after the stored
    // state: nothing to write (the next load folds the tail again).
    if (from == same && same == stored.order.size() && !out.state_rejected &&
        n - from <= options.tail_folded_on_load) {
      out.mark = FilesProjectionMark{true, stored.generation, from};
      return reading;
    }
    if (n > 0) checkpoints.emplace_back(n, reading->SaveState());
    // The reading is right whatever happens here; a state that cannot be
    // saved (a read-only or busy database) is only rebuilt next time.
    auto written = WriteBack(
        db, hub, stored, ordered, same, checkpoints,
        FilesProjectionOptions{interval, options.checkpoints_kept, options.tail_folded_on_load});
    if (written.ok() && *written) out.mark = FilesProjectionMark{true, stored.generation + 1, n};
    return reading;
  }
}

Status SaveFilesReading(EventIndex& index, const files::FilesReading& reading,
                        FilesProjectionMark& mark, const FilesProjectionOptions& options) {
  const size_t n = reading.size();
  if (!mark.valid || n <= mark.positions + options.tail_folded_on_load) return Status::Ok();
  StateDb& db = *index.db();
  const std::string& hub = index.hub_id();
  const auto interval = static_cast<int64_t>(std::max<size_t>(options.checkpoint_interval, 1));

  StateDb::Transaction txn(&db);
  NB_ASSIGN_OR_RETURN(int64_t generation, ReadGeneration(db, hub));
  if (generation != mark.generation) {
    mark.valid = false;  // another process stored its own; ours is no longer the base
    return Status::Ok();
  }
  // The stored order is the reading's first mark.positions events: the
  // appended ones follow it.
  NB_ASSIGN_OR_RETURN(Statement drop_order,
                      db.Prepare("DELETE FROM files_order WHERE hub=? AND pos>=?"));
  NB_RETURN_IF_ERROR(drop_order.Bind(1, hub).Bind(2, static_cast<int64_t>(mark.positions)).Run());
  NB_ASSIGN_OR_RETURN(Statement put_order,
                      db.Prepare("INSERT INTO files_order(hub, pos, hash) VALUES(?, ?, ?)"));
  for (size_t k = mark.positions; k < n; ++k) {
    put_order.Bind(1, hub).Bind(2, static_cast<int64_t>(k)).BindBlob(3, reading.HashAt(k).bytes);
    NB_RETURN_IF_ERROR(put_order.Run());
  }
  // The checkpoints still valid (at or before the old end, at multiples of
  // the interval, among the latest) stay; the old end's live state goes.
  const int64_t oldest_kept =
      static_cast<int64_t>(n) - interval * static_cast<int64_t>(options.checkpoints_kept);
  NB_ASSIGN_OR_RETURN(Statement drop_states,
                      db.Prepare("DELETE FROM files_state WHERE hub=? AND (pos>? OR pos%?!=0 OR "
                                 "pos<?)"));
  NB_RETURN_IF_ERROR(drop_states.Bind(1, hub)
                         .Bind(2, static_cast<int64_t>(mark.positions))
                         .Bind(3, interval)
                         .Bind(4, oldest_kept)
                         .Run());
  NB_ASSIGN_OR_RETURN(
      Statement put_state,
      db.Prepare("INSERT OR REPLACE INTO files_state(hub, pos, state) VALUES(?, ?, ?)"));
  NB_RETURN_IF_ERROR(put_state.Bind(1, hub)
                         .Bind(2, static_cast<int64_t>(n))
                         .BindBlob(3, AsBytes(reading.SaveState()))
                         .Run());
  NB_ASSIGN_OR_RETURN(Statement bump,
                      db.Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
  NB_RETURN_IF_ERROR(bump.Bind(1, GenerationKey(hub)).Bind(2, generation + 1).Run());
  NB_RETURN_IF_ERROR(txn.Commit());
  mark = FilesProjectionMark{true, generation + 1, n};
  return Status::Ok();
}

}  // namespace nb::apps::state
