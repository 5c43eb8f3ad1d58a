#include "apps/hub_timeline.h"

#include "apps/state/event_index.h"
#include "base/parallel.h"

namespace nb::apps {

std::optional<files::DecodedEvent> DecodeValidEvent(const hub::Hub& hub,
                                                    const log::ValidEvent& event) {
  auto payload = hub.DecryptPayload(event);
  if (!payload.ok()) return std::nullopt;
  return files::DecodeEvent(event.hash, event.envelope.block_refs, *payload);
}

Result<HubTimeline> LoadTimeline(hub::Hub& hub, unsigned threads) {
  auto db = state::StateDb::Open(hub.store().primary().state_dir() / "state.sqlite");
  if (!db.ok()) return LoadTimelineUncached(hub, threads);
  state::EventIndex index(db->get(), &hub);
  index.KeepAdded(false);  // everything is loaded below
  NB_ASSIGN_OR_RETURN(state::RefreshReport report, index.Refresh(threads));
  HubTimeline timeline;
  timeline.refused = std::move(report.refused);
  NB_ASSIGN_OR_RETURN(timeline.events, index.LoadAll());
  NB_ASSIGN_OR_RETURN(timeline.undecodable, index.UndecodableCount());
  return timeline;
}

Result<HubTimeline> LoadTimelineUncached(hub::Hub& hub, unsigned threads) {
  NB_ASSIGN_OR_RETURN(log::LoadedEvents loaded, log::LoadAllEvents(hub.log(), threads));
  std::vector<std::optional<files::DecodedEvent>> decoded(loaded.valid.size());
  ParallelFor(loaded.valid.size(), threads,
              [&](size_t i) { decoded[i] = DecodeValidEvent(hub, loaded.valid[i]); });
  HubTimeline timeline;
  timeline.refused = std::move(loaded.refused);
  timeline.events.reserve(decoded.size());
  for (auto& event : decoded) {
    if (event) {
      timeline.events.push_back(std::move(*event));
    } else {
      ++timeline.undecodable;
    }
  }
  return timeline;
}

}  // namespace nb::apps
