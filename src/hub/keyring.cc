#include "hub/keyring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  // Write to a private temp file, then rename over the old one.
  std::filesystem::path temp = file_.string() + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kIo, "cannot write " + temp.string());
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temp.c_str(), file_.c_str()) != 0) {
    ::unlink(temp.c_str());
    return MakeError(ErrorCode::kIo, "cannot save " + file_.string());
  }
  return Status::Ok();
}

}  // namespace nb::hub
