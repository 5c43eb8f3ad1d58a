#include "hub/keyring.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "store/file_io.h"

namespace nb::hub {

Result<Keyring> Keyring::Load(const std::filesystem::path& home) {
  Keyring keyring;
  keyring.file_ = home / "secrets";
  struct stat st;
  if (::stat(keyring.file_.c_str(), &st) != 0) return keyring;
  if ((st.st_mode & 077) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     keyring.file_.string() +
                         " is readable by other users; fix with chmod 600 (secrets stay unused)");
  }
  NB_ASSIGN_OR_RETURN(Bytes bytes, store::ReadFileBytes(keyring.file_, 16 << 20));
  auto doc = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!doc.is_object() || !doc.contains("hubs") || !doc["hubs"].is_object()) {
    return MakeError(ErrorCode::kCorrupt, keyring.file_.string() + " is not a secrets file");
  }
  for (const auto& [id, secret] : doc["hubs"].items()) {
    if (secret.is_string()) keyring.secrets_[id] = secret.get<std::string>();
  }
  return keyring;
}

std::vector<std::string> Keyring::HubIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, secret] : secrets_) ids.push_back(id);
  return ids;
}

Status Keyring::Remember(const std::string& hub_id, const std::string& secret) {
  secrets_[hub_id] = secret;
  return Save();
}

Status Keyring::Forget(const std::string& hub_id) {
  if (secrets_.erase(hub_id) == 0) {
    return MakeError(ErrorCode::kNotFound, "this machine holds no secret for hub " + hub_id);
  }
  return Save();
}

Status Keyring::Save() const {
  nlohmann::json doc;
  doc["hubs"] = nlohmann::json::object();
  for (const auto& [id, secret] : secrets_) doc["hubs"][id] = secret;
  std::string text = doc.dump(2) + "\n";
  NB_RETURN_IF_ERROR(store::EnsureDirectory(file_.parent_path()));
  return store::ReplaceFileDurably(file_, AsBytes(text), {.mode = 0600});
}

}  // namespace nb::hub
