// Peers this home dials by address: added with `nearbytes peers add`, kept
// in $NEARBYTES_HOME/peers.json so the daemon dials them again after a
// restart. (Peers found on the LAN are not written here: they announce
// themselves again.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/address.h"

namespace nb::engine {

// A peer's address: the carrier's parser (sync/address.h) with the peer
// rule (host:port, [v6]:port, a bare host for port 4441).
using PeerAddress = sync::HostPort;
using sync::kDefaultSyncPort;
inline Result<PeerAddress> ParsePeerAddress(std::string_view text) {
  return sync::ParseHostPort(text, sync::PortRule::kPeer);
}

class KnownPeers {
 public:
  // A missing file is an empty list; a damaged one is an error naming it.
  static Result<KnownPeers> Load(const std::filesystem::path& home);
  const std::vector<std::string>& addresses() const { return addresses_; }
  // Both return false when nothing changed (already there, or the list is
  // full at 1000 addresses / not there).
  bool Add(const PeerAddress& address);
  bool Remove(const PeerAddress& address);
  // Rewrites the file durably (0600).
  Status Save() const;

 private:
  std::filesystem::path file_;
  std::vector<std::string> addresses_;  // canonical host:port, in the order added
};

}  // namespace nb::engine
