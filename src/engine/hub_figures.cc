#include "engine/hub_figures.h"

#include "engine/hub_references.h"

namespace nb::engine {

Result<HubFigures> ComputeHubFigures(hub::Hub& hub) {
  NB_ASSIGN_OR_RETURN(log::LoadedEvents loaded, log::LoadAllEvents(hub.log()));
  HubFigures figures;
  figures.events = loaded.valid.size();
  figures.invalid_events = loaded.refused.size();
  for (const auto& event : loaded.valid) {
    if (auto* root = hub.store().RootWithEvent(hub.id(), event.hash); root != nullptr) {
      auto st = root->StatEvent(hub.id(), event.hash);
      if (st.ok()) figures.event_bytes += st->size;
    }
  }
  NB_ASSIGN_OR_RETURN(HubReferences refs,
                      CollectHubReferences(hub.store(), hub.id(), loaded.valid, &hub.keys()));
  figures.events_by_kind = refs.events_by_kind;
  figures.chunks_counted = refs.chunks_complete;
  for (const auto& block : refs.AllBlocks()) {
    auto size = hub.store().BlockSize(block);
    if (size.ok()) {
      ++figures.blocks;
      figures.block_bytes += *size;
    } else {
      ++figures.missing_blocks;
    }
  }
  figures.live_files = refs.live_files;
  figures.live_bytes = refs.live_bytes;
  figures.versions = refs.versions;
  return figures;
}

}  // namespace nb::engine
