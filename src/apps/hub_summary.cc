#include "apps/hub_summary.h"

#include "apps/payload.h"

namespace nb::apps {

Result<std::unique_ptr<state::StateDb>> OpenStateDb(store::Store& store) {
  return state::StateDb::Open(store.primary().state_dir() / "state.sqlite");
}

Result<HubSummary> SummarizeHub(hub::Hub& hub, state::StateDb& db, bool refresh) {
  state::EventIndex index(&db, &hub);
  index.KeepAdded(false);
  if (refresh) NB_RETURN_IF_ERROR(index.Refresh());
  NB_ASSIGN_OR_RETURN(auto events, index.LoadAll());
  HubSummary summary;
  summary.events = events.size();
  for (const auto& event : events) {
    if (event.files) continue;
    auto payload = SummarizePayload(event.app_payload);
    if (payload && payload->protocol == "nb.chat.message.v1") ++summary.messages;
  }
  auto reading = files::FilesReading::Replay(std::move(events));
  summary.files = reading.files().size();
  summary.conflicts = reading.conflicts().size();
  return summary;
}

}  // namespace nb::apps
