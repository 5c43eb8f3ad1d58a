#include "engine/known_peers.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "store/file_io.h"

namespace nb::engine {

namespace {

constexpr size_t kMaxKnownPeers = 1000;

}  // namespace

Result<KnownPeers> KnownPeers::Load(const std::filesystem::path& home) {
  KnownPeers peers;
  peers.file_ = home / "peers.json";
  std::error_code ec;
  if (!std::filesystem::exists(peers.file_, ec)) return peers;
  NB_ASSIGN_OR_RETURN(Bytes bytes, store::ReadFileBytes(peers.file_, 1 << 20));
  auto doc = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (!doc.is_object() || !doc.contains("peers") || !doc["peers"].is_array()) {
    return MakeError(ErrorCode::kCorrupt,
                     peers.file_.string() + " is not a list of peers (fix or delete it)");
  }
  for (const auto& entry : doc["peers"]) {
    if (!entry.is_string()) continue;
    auto address = ParsePeerAddress(entry.get<std::string>());
    if (address.ok()) peers.Add(*address);
  }
  return peers;
}

bool KnownPeers::Add(const PeerAddress& address) {
  std::string text = address.ToString();
  if (std::find(addresses_.begin(), addresses_.end(), text) != addresses_.end()) return false;
  if (addresses_.size() >= kMaxKnownPeers) return false;
  addresses_.push_back(std::move(text));
  return true;
}

bool KnownPeers::Remove(const PeerAddress& address) {
  auto it = std::find(addresses_.begin(), addresses_.end(), address.ToString());
  if (it == addresses_.end()) return false;
  addresses_.erase(it);
  return true;
}

Status KnownPeers::Save() const {
  nlohmann::json doc = {{"peers", addresses_}};
  std::string text = doc.dump(2) + "\n";
  NB_RETURN_IF_ERROR(store::EnsureDirectory(file_.parent_path()));
  return store::ReplaceFileDurably(file_, AsBytes(text), {.mode = 0600});
}

}  // namespace nb::engine
