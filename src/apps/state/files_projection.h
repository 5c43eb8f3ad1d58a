// The persisted FILES projection. The local state keeps the canonical order
// it last folded, with the FILES epoch of the index it was computed from,
// and fold states (FilesReading::SaveState) at some positions of it: the
// live one at or near the end, and checkpoints every
// kFilesCheckpointInterval positions near the end. Opening a hub whose
// FILES epoch is unchanged (no FILES event entered or left the index, and
// the few parents outside the order are as they were) takes the stored
// order as it is. Otherwise it computes the canonical order from the
// verified-event index (no payload is read) and finds the first position
// where it differs from the stored one. Either way it resumes from the
// latest state at or before that position: nothing to fold when nothing
// changed, a few events when some were appended, a rewind when an event
// lands earlier in the order. The result always equals FilesReading::Replay
// of every event (the property test checks it).
#pragma once

#include "apps/files/files_reading.h"
#include "apps/state/event_index.h"

namespace nb::apps::state {

inline constexpr size_t kFilesCheckpointInterval = 4096;

struct FilesProjectionOptions {
  size_t checkpoint_interval = kFilesCheckpointInterval;
  size_t checkpoints_kept = 4;  // the latest ones; older ones are dropped
  // A stored state followed by at most this many events appended at the
  // end of the order is left as it is: each load folds them again (a
  // lookup each), which costs less than storing the whole state (a few
  // bytes per file of the hub) after every small write.
  size_t tail_folded_on_load = 64;
};

// Where the stored projection stands after a load: the generation it was
// left at, the position of its latest state (a prefix of the loaded
// reading's order; a short tail may follow it), how many positions the
// loaded reading's order has, and the FILES epoch of the index that order
// was computed from (-1: unknown). Not valid when the load could not
// store it.
struct FilesProjectionMark {
  bool valid = false;
  int64_t generation = 0;
  size_t state_position = 0;
  size_t order_size = 0;
  int64_t epoch = -1;
};

// What the last load did (for tests and `--verbose` reports).
struct FilesProjectionReport {
  FilesProjectionMark mark;
  size_t events = 0;            // positions in the order
  size_t resumed_at = 0;        // position of the state it started from
  size_t folded = 0;            // events folded in
  bool state_rejected = false;  // a stored state did not read back; rebuilt
  bool order_trusted = false;   // the stored order was current (same FILES epoch)
};

// Loads the FILES reading of `index`'s hub, whose index must be refreshed.
// The reading looks up event details through `index`, which must outlive it.
Result<files::FilesReading> LoadFilesReading(EventIndex& index,
                                             const FilesProjectionOptions& options = {},
                                             FilesProjectionReport* report = nullptr);

// Stores the state of `reading` — loaded by LoadFilesReading, which left
// `mark`, then extended by FilesReading::AppendLocal with events already
// recorded in `index` — so that the next load finds the projection current
// and folds nothing. The writer calls it when it is done: the command after
// a put opens as cheaply as any other. Does nothing if another process has
// stored a projection since `mark` (that one is as good: loads compare the
// stored order with the index's anyway). Advances `mark` when it stores.
Status SaveFilesReading(EventIndex& index, const files::FilesReading& reading,
                        FilesProjectionMark& mark, const FilesProjectionOptions& options = {});

}  // namespace nb::apps::state
