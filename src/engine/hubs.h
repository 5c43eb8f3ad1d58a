// Hubs on this machine: create one in a node's store, the secrets
// remembered in $NEARBYTES_HOME (hub/keyring.h), a hub's figures and
// settings, and its event log described.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "apps/hub_settings.h"
#include "apps/payload.h"
#include "engine/hub_figures.h"
#include "engine/node.h"
#include "hub/secret_strength.h"
#include "log/hub_log.h"

namespace nb::engine {

struct CreatedHub {
  hub::Hub* hub = nullptr;  // held open by the node
  hub::SecretStrength strength;
  apps::HubSettings settings;
};

// hub create: the hub of `secret` in the node's store (nothing happens if it
// exists), in reference-compatible mode if asked (a hub already so stays
// so), its secret remembered unless `remember` is false.
Result<CreatedHub> CreateHub(Node& node, const std::string& secret, bool reference_compatible,
                             bool remember);

struct RememberedHub {
  std::string id;
  std::string name;  // "" if the secret names none
};

// hub list: the hubs whose secret this machine remembers, by id.
Result<std::vector<RememberedHub>> ListRememberedHubs();

// Picks a remembered hub (`secrets`: id -> secret) by display name or id
// prefix (4+ hex digits); errors list the candidates.
Result<std::string> ResolveRememberedHub(const std::string& wanted,
                                         const std::map<std::string, std::string>& secrets);
// "name (id prefix), name (id prefix), ..." for messages.
std::string ListRemembered(const std::map<std::string, std::string>& secrets);

// hub forget: removes the hub's secret from this machine (its data stays).
Status ForgetHub(const std::string& hub_id);

struct HubInfo {
  HubFigures figures;
  apps::HubSettings settings;
};

// hub info.
Result<HubInfo> DescribeHub(hub::Hub& hub);

// hub set reference-compatible: turns the mode on or off by a settings
// record, unless the hub is already so (with `only_turn_on`, false changes
// nothing). Returns the settings now.
Result<apps::HubSettings> SetReferenceCompatible(hub::Hub& hub, bool on, bool only_turn_on);

struct LoggedEvent {
  const log::ValidEvent* event = nullptr;  // in the LoadedEvents it came from
  std::optional<apps::PayloadSummary> summary;
  bool decrypted = false;
};

// log: the hub's valid events decrypted and summarized, in time order (the
// hash breaks ties, so the order is stable; undated events last).
std::vector<LoggedEvent> DescribeEvents(const hub::Hub& hub, const log::LoadedEvents& loaded);

}  // namespace nb::engine
