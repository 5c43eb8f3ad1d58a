#include "apps/hub_summary.h"

#include "apps/state/files_projection.h"

namespace nb::apps {

Result<std::unique_ptr<state::StateDb>> OpenStateDb(store::Store& store) {
  return state::StateDb::Open(store.primary().state_dir() / "state.sqlite");
}

Result<HubSummary> SummarizeHub(hub::Hub& hub, state::StateDb& db, bool refresh) {
  state::EventIndex index(&db, &hub);
  index.KeepAdded(false);
  if (refresh) NB_RETURN_IF_ERROR(index.Refresh());
  HubSummary summary;
  NB_ASSIGN_OR_RETURN(summary.events, index.KindCount(state::kAllKinds));
  NB_ASSIGN_OR_RETURN(summary.messages, index.KindCount(state::kKindChat));
  NB_ASSIGN_OR_RETURN(files::FilesReading reading, state::LoadFilesReading(index));
  summary.files = reading.files().size();
  summary.conflicts = reading.conflicts().size();
  for (const auto& [path, entry] : reading.files()) summary.file_origins[path] = entry.origin_event;
  for (const auto& conflict : reading.conflicts()) summary.conflict_paths.insert(conflict.path);
  return summary;
}

HubChange CompareSummaries(const HubSummary& before, const HubSummary& after) {
  HubChange change;
  auto gained = [](size_t b, size_t a) { return a > b ? a - b : 0; };
  change.new_events = gained(before.events, after.events);
  change.new_messages = gained(before.messages, after.messages);
  // Paths gone and paths come; a content origin that moved from one to the
  // other is a rename.
  std::multiset<crypto::Hash256> gone_origins;
  for (const auto& [path, origin] : before.file_origins) {
    auto now = after.file_origins.find(path);
    if (now == after.file_origins.end()) {
      gone_origins.insert(origin);
    } else if (now->second != origin) {
      ++change.changed_files;
    }
  }
  size_t gone = gone_origins.size();
  for (const auto& [path, origin] : after.file_origins) {
    if (before.file_origins.count(path)) continue;
    auto moved = gone_origins.find(origin);
    if (moved != gone_origins.end()) {
      gone_origins.erase(moved);
      ++change.renamed_files;
    } else {
      ++change.added_files;
    }
  }
  change.removed_files = gone - change.renamed_files;
  for (const auto& path : after.conflict_paths) {
    if (!before.conflict_paths.count(path)) ++change.new_conflicts;
  }
  for (const auto& path : before.conflict_paths) {
    if (!after.conflict_paths.count(path)) ++change.resolved_conflicts;
  }
  change.conflicts = after.conflict_paths.size();
  return change;
}

}  // namespace nb::apps
