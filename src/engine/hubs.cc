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

namespace {

std::string HubLabel(const std::string& id, const std::string& secret) {
  auto parsed = hub::ParseSecret(secret);
  std::string name = parsed.ok() && parsed->display_name ? *parsed->display_name : "(no name)";
  return name + " (" + id.substr(0, 12) + ")";
}

}  // namespace

std::string ListRemembered(const std::map<std::string, std::string>& secrets) {
  std::string out;
  for (const auto& [id, secret] : secrets) {
    if (!out.empty()) out += ", ";
    out += HubLabel(id, secret);
  }
  return out;
}

Result<std::string> ResolveRememberedHub(const std::string& wanted,
                                         const std::map<std::string, std::string>& secrets) {
  std::vector<std::string> matches;
  for (const auto& [id, secret] : secrets) {
    auto parsed = hub::ParseSecret(secret);
    bool name_match = parsed.ok() && parsed->display_name && *parsed->display_name == wanted;
    bool id_match = wanted.size() >= 4 && id.compare(0, wanted.size(), wanted) == 0;
    if (name_match || id_match) matches.push_back(id);
  }
  if (matches.size() == 1) return matches.front();
  if (secrets.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "--hub " + wanted + ": this machine remembers no hub (nearbytes hub create)");
  }
  if (matches.empty()) {
    return MakeError(
        ErrorCode::kNotFound,
        "--hub " + wanted + " matches no remembered hub; remembered: " + ListRemembered(secrets));
  }
  std::map<std::string, std::string> several;
  for (const auto& id : matches) several[id] = secrets.at(id);
  return MakeError(ErrorCode::kInvalidArgument,
                   "--hub " + wanted + " matches several hubs: " + ListRemembered(several) +
                       "; give more of the id");
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
