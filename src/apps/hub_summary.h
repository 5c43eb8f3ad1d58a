// What a hub's readings hold, in numbers: used to tell a user what a sync
// brought (new files, new messages, new conflicts). Uses the verified-event
// index, so only events not seen before cost a signature check.
#pragma once

#include "apps/state/event_index.h"
#include "hub/hub.h"

namespace nb::apps {

struct HubSummary {
  size_t events = 0;
  size_t files = 0;
  size_t conflicts = 0;
  size_t messages = 0;
};

// With `refresh`, the index is first brought in step with the store;
// without, the summary describes what the index last saw (e.g. "before" a
// sync that has since added files).
Result<HubSummary> SummarizeHub(hub::Hub& hub, state::StateDb& db, bool refresh = true);

// The state database of a store: <primary root>/.nearbytes/state.sqlite.
Result<std::unique_ptr<state::StateDb>> OpenStateDb(store::Store& store);

}  // namespace nb::apps
