// The secrets this machine holds: $NEARBYTES_HOME/secrets, mode 0600,
// rewritten atomically. `hub create` remembers the secret it used, so later
// commands (sync above all) know which hubs this machine can read without
// asking again. Secrets are never printed.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace nb::hub {

class Keyring {
 public:
  // Loads the keyring of `home` (empty if the file does not exist). Refuses
  // a file that other users can read.
  static Result<Keyring> Load(const std::filesystem::path& home);

  // Hub id -> secret.
  const std::map<std::string, std::string>& secrets() const { return secrets_; }
  std::vector<std::string> HubIds() const;

  // Adds (or replaces) the secret of `hub_id` and saves.
  Status Remember(const std::string& hub_id, const std::string& secret);
  // Removes a hub's secret and saves. kNotFound if it was not there.
  Status Forget(const std::string& hub_id);

 private:
  Status Save() const;
  std::filesystem::path file_;
  std::map<std::string, std::string> secrets_;
};

}  // namespace nb::hub
