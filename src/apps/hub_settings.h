// Hub settings that every device of a hub follows, carried in the hub itself.
//
// A settings record travels as an APP_RECORD (FORMAT.md §6) of our own
// protocol, which the reference software skips like any protocol it does not
// know (checked with shared/reference-reader):
//
//   {"type":"APP_RECORD","protocol":"nb.hub.settings.v1","record":"<JSON>",
//    "authorPublicKey":<hub id>,"publishedAt":MS}
//
// where record is the canonical JSON of
//
//   {"k":<hub id>,"p":"nb.hub.settings.v1","referenceCompatible":BOOL,"ts":MS}
//
// The envelope's hub signature is the authority: whoever holds the secret may
// change a setting, as they may write any file. The latest valid record wins:
// the largest ts, then the largest event hash, so every device that holds the
// same events reads the same settings. A record naming another hub, or with
// missing or ill-typed fields, is ignored; fields we do not know are ignored.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/files/files_reading.h"
#include "base/status.h"
#include "hub/hub.h"

namespace nb::apps {

namespace state {
class EventIndex;
}

constexpr std::string_view kHubSettingsProtocol = "nb.hub.settings.v1";

struct HubSettings {
  // Every file is written as one block (nb.content.single.v1), so the
  // reference software reads it; default hubs chunk most files over 256 KiB.
  bool reference_compatible = false;
  // The record that set these values (nullopt: defaults, no record yet).
  std::optional<crypto::Hash256> record_event;
  int64_t set_at_ms = 0;
};

// The APP_RECORD payload that sets `settings` in hub `hub_id` at `ts_ms`.
std::string BuildHubSettingsPayload(const std::string& hub_id, const HubSettings& settings,
                                    int64_t ts_ms);

// The settings a set of events leaves (any order; defaults if no record).
HubSettings ReadHubSettings(const std::string& hub_id,
                            const std::vector<files::DecodedEvent>& events);

// Reads the hub's current settings through the verified-event index (only
// new events cost a check), or by a full replay when the store has no usable
// local state.
Result<HubSettings> LoadHubSettings(hub::Hub& hub);
// The same through an index the caller has just refreshed (one refresh per
// command: each costs a stat per event file). Null: as above.
Result<HubSettings> LoadHubSettings(hub::Hub& hub, state::EventIndex* refreshed_index);

// Appends a settings record (now, never older than the current one).
Result<HubSettings> WriteHubSettings(hub::Hub& hub, bool reference_compatible);

}  // namespace nb::apps
