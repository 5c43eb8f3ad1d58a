#include "engine/known_peers.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "store/file_io.h"

namespace nb::engine {

namespace {

constexpr size_t kMaxAddressLength = 300;
constexpr size_t kMaxKnownPeers = 1000;

}  // namespace

std::string PeerAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<PeerAddress> ParsePeerAddress(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(text.substr(0, 80)) + "' is not a peer address (" + why +
                         "; write HOST:PORT, e.g. 192.168.1.20:4441 or [fe80::1%eth0]:4441)");
  };
  if (text.empty()) return bad("it is empty");
  if (text.size() > kMaxAddressLength) return bad("it is too long");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("it contains a space");
  }
  PeerAddress address;
  std::string_view port_text;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("the '[' is not closed");
    address.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' after ']'");
      port_text = rest.substr(1);
      if (port_text.empty()) return bad("the port is missing");
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') != colon) {
      return bad("an IPv6 address needs brackets");
    }
    if (colon == std::string_view::npos) {
      address.host = std::string(text);
    } else {
      address.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return bad("the port is missing");
    }
  }
  if (address.host.empty()) return bad("the host is missing");
  if (port_text.empty()) {
    address.port = kDefaultSyncPort;
  } else {
    unsigned value = 0;
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
    address.port = static_cast<uint16_t>(value);
  }
  return address;
}

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
