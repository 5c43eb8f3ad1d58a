// What a hub's readings hold, and what changed between two looks at them:
// used to tell a user what a sync brought (new, changed, renamed and removed
// files, new messages, new and resolved conflicts). Uses the verified-event
// index, so only events not seen before cost a signature check.
#pragma once

#include <map>
#include <set>
#include <string>

#include "apps/state/event_index.h"
#include "hub/hub.h"

namespace nb::apps {

struct HubSummary {
  size_t events = 0;
  size_t files = 0;
  size_t conflicts = 0;
  size_t messages = 0;
  // Each live file's path and the CREATE_FILE that produced its content
  // (kept across renames), and the paths in conflict.
  std::map<std::string, crypto::Hash256> file_origins;
  std::set<std::string> conflict_paths;
};

// The difference between two summaries of one hub. Every figure counts
// things, so none is ever negative: a sync that deletes files reports them
// as removed, never as "-2 new files".
struct HubChange {
  size_t new_events = 0;
  size_t new_messages = 0;
  size_t added_files = 0;    // paths that were not files before
  size_t changed_files = 0;  // same path, other content
  size_t renamed_files = 0;  // same content origin, other path
  size_t removed_files = 0;  // paths that are no longer files
  size_t new_conflicts = 0;  // paths in conflict now that were not before
  size_t resolved_conflicts = 0;
  size_t conflicts = 0;  // paths in conflict now
  bool empty() const {
    return new_events == 0 && added_files == 0 && changed_files == 0 && renamed_files == 0 &&
           removed_files == 0 && new_conflicts == 0 && resolved_conflicts == 0;
  }
};
HubChange CompareSummaries(const HubSummary& before, const HubSummary& after);

// With `refresh`, the index is first brought in step with the store;
// without, the summary describes what the index last saw (e.g. "before" a
// sync that has since added files).
Result<HubSummary> SummarizeHub(hub::Hub& hub, state::StateDb& db, bool refresh = true);

// The state database of a store: <primary root>/.nearbytes/state.sqlite.
Result<std::unique_ptr<state::StateDb>> OpenStateDb(store::Store& store);

}  // namespace nb::apps
