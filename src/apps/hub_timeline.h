// Loads a hub's history for the readings: every valid event, decrypted and
// decoded, using both cores (signature checks and decryption dominate).
#pragma once

#include <string>
#include <vector>

#include "apps/files/files_reading.h"
#include "hub/hub.h"

namespace nb::apps {

struct HubTimeline {
  std::vector<files::DecodedEvent> events;  // any order
  size_t undecodable = 0;                   // valid envelopes whose payload we cannot read
  std::vector<log::RefusedEvent> refused;   // invalid files (now in quarantine)
};

// Uses the store's verified-event index (<primary>/.nearbytes/state.sqlite):
// only events not seen before are verified and decrypted. Without a usable
// index (a read-only store), every event is verified.
Result<HubTimeline> LoadTimeline(hub::Hub& hub, unsigned threads = 0);
// The same without the index: verifies and decrypts every event.
Result<HubTimeline> LoadTimelineUncached(hub::Hub& hub, unsigned threads = 0);

// Decrypts and decodes one event; nullopt if the payload is unreadable.
std::optional<files::DecodedEvent> DecodeValidEvent(const hub::Hub& hub,
                                                    const log::ValidEvent& event);

}  // namespace nb::apps
