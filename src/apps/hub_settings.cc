#include "apps/hub_settings.h"

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "apps/canonical_json.h"
#include "apps/hub_summary.h"
#include "apps/hub_timeline.h"
#include "apps/payload.h"
#include "apps/state/event_index.h"

namespace nb::apps {
namespace {

using Json = nlohmann::json;

struct SettingsRecord {
  HubSettings settings;
  crypto::Hash256 event;
};

// nullopt unless `event` is a well-formed settings record of this hub.
std::optional<SettingsRecord> ParseSettingsEvent(const std::string& hub_id,
                                                 const files::DecodedEvent& event) {
  if (event.files || event.app_payload.empty()) return std::nullopt;
  auto payload = Json::parse(event.app_payload, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object() || payload.value("type", "") != "APP_RECORD" ||
      payload.value("protocol", "") != kHubSettingsProtocol) {
    return std::nullopt;
  }
  auto record_text = payload.find("record");
  if (record_text == payload.end() || !record_text->is_string()) return std::nullopt;
  auto record = Json::parse(record_text->get<std::string>(), nullptr, false);
  if (!record.is_object() || record.value("p", "") != kHubSettingsProtocol ||
      record.value("k", "") != hub_id) {
    return std::nullopt;
  }
  auto ts = record.find("ts");
  auto compatible = record.find("referenceCompatible");
  if (ts == record.end() || compatible == record.end() || !compatible->is_boolean()) {
    return std::nullopt;
  }
  auto timestamp = SafeTimestamp(*ts);
  if (!timestamp) return std::nullopt;
  SettingsRecord out;
  out.settings.reference_compatible = compatible->get<bool>();
  out.settings.record_event = event.hash;
  out.settings.set_at_ms = *timestamp;
  out.event = event.hash;
  return out;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string BuildHubSettingsPayload(const std::string& hub_id, const HubSettings& settings,
                                    int64_t ts_ms) {
  Json record{{"k", hub_id},
              {"p", std::string(kHubSettingsProtocol)},
              {"referenceCompatible", settings.reference_compatible},
              {"ts", ts_ms}};
  return AppRecordPayload(kHubSettingsProtocol, CanonicalJson(record), hub_id, ts_ms);
}

HubSettings ReadHubSettings(const std::string& hub_id,
                            const std::vector<files::DecodedEvent>& events) {
  std::optional<SettingsRecord> latest;
  for (const auto& event : events) {
    auto record = ParseSettingsEvent(hub_id, event);
    if (!record) continue;
    if (!latest || record->settings.set_at_ms > latest->settings.set_at_ms ||
        (record->settings.set_at_ms == latest->settings.set_at_ms &&
         latest->event < record->event)) {
      latest = std::move(record);
    }
  }
  return latest ? latest->settings : HubSettings{};
}

Result<HubSettings> LoadHubSettings(hub::Hub& hub) {
  auto db = OpenStateDb(hub.store());
  if (db.ok()) {
    state::EventIndex index(db->get(), &hub);
    index.KeepAdded(false);
    if (index.Refresh().ok()) {
      // Settings records are of no kind the index names: "other" holds only
      // the few events that are neither files, chat nor identity.
      auto others = index.LoadAll(state::kKindOther);
      if (others.ok()) return ReadHubSettings(hub.id(), *others);
    }
  }
  NB_ASSIGN_OR_RETURN(HubTimeline timeline, LoadTimelineUncached(hub));
  return ReadHubSettings(hub.id(), timeline.events);
}

Result<HubSettings> LoadHubSettings(hub::Hub& hub, state::EventIndex* refreshed_index) {
  if (refreshed_index != nullptr) {
    auto others = refreshed_index->LoadAll(state::kKindOther);
    if (others.ok()) return ReadHubSettings(hub.id(), *others);
  }
  return LoadHubSettings(hub);
}

Result<HubSettings> WriteHubSettings(hub::Hub& hub, bool reference_compatible) {
  NB_ASSIGN_OR_RETURN(HubSettings current, LoadHubSettings(hub));
  HubSettings next = current;
  next.reference_compatible = reference_compatible;
  // Never older than the record it replaces, even with a clock set back.
  next.set_at_ms = std::max(NowMs(), current.set_at_ms + 1);
  std::string payload = BuildHubSettingsPayload(hub.id(), next, next.set_at_ms);
  NB_ASSIGN_OR_RETURN(log::ValidEvent event, hub.AppendPayload(payload, {}));
  next.record_event = event.hash;
  return next;
}

}  // namespace nb::apps
