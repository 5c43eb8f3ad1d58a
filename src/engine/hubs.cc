#include "engine/hubs.h"

#include <algorithm>
#include <climits>

#include "hub/home.h"
#include "hub/keyring.h"
#include "hub/secret.h"

namespace nb::engine {

Result<CreatedHub> CreateHub(Node& node, const std::string& secret, bool reference_compatible,
                             bool remember) {
  CreatedHub out;
  out.strength = hub::EstimateSecretStrength(secret);
  NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
  NB_ASSIGN_OR_RETURN(out.hub, node.OpenHub(std::move(keys), /*create=*/true));
  NB_ASSIGN_OR_RETURN(out.settings, SetReferenceCompatible(*out.hub, reference_compatible,
                                                           /*only_turn_on=*/true));
  if (remember) {
    NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
    NB_RETURN_IF_ERROR(keyring.Remember(out.hub->id(), secret));
  }
  return out;
}

Result<std::vector<RememberedHub>> ListRememberedHubs() {
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  std::vector<RememberedHub> out;
  for (const auto& [id, secret] : keyring.secrets()) {
    auto parsed = hub::ParseSecret(secret);
    out.push_back(
        RememberedHub{id, parsed.ok() && parsed->display_name ? *parsed->display_name : ""});
  }
  return out;
}

Status ForgetHub(const std::string& hub_id) {
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  return keyring.Forget(hub_id);
}

Result<HubInfo> DescribeHub(hub::Hub& hub) {
  HubInfo out;
  NB_ASSIGN_OR_RETURN(out.settings, apps::LoadHubSettings(hub));
  NB_ASSIGN_OR_RETURN(out.figures, ComputeHubFigures(hub));
  return out;
}

Result<apps::HubSettings> SetReferenceCompatible(hub::Hub& hub, bool on, bool only_turn_on) {
  NB_ASSIGN_OR_RETURN(apps::HubSettings current, apps::LoadHubSettings(hub));
  if ((only_turn_on && !on) || current.reference_compatible == on) return current;
  return apps::WriteHubSettings(hub, on);
}

std::vector<LoggedEvent> DescribeEvents(const hub::Hub& hub, const log::LoadedEvents& loaded) {
  std::vector<LoggedEvent> rows;
  for (const auto& event : loaded.valid) {
    LoggedEvent row{&event, std::nullopt, false};
    auto payload = hub.DecryptPayload(event);
    if (payload.ok()) {
      row.decrypted = true;
      row.summary = apps::SummarizePayload(*payload);
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const LoggedEvent& a, const LoggedEvent& b) {
    int64_t ta = a.summary && a.summary->timestamp_ms ? *a.summary->timestamp_ms : INT64_MAX;
    int64_t tb = b.summary && b.summary->timestamp_ms ? *b.summary->timestamp_ms : INT64_MAX;
    if (ta != tb) return ta < tb;
    return a.event->hash < b.event->hash;
  });
  return rows;
}

}  // namespace nb::engine
