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
  return summary;
}

}  // namespace nb::apps
