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

namespace nb::engine {

struct PeerAddress {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;
  std::string ToString() const;  // host:port, [v6]:port
};

constexpr uint16_t kDefaultSyncPort = 4441;

// Accepts host:port, [v6]:port, and a bare host (the default port 4441).
// Refuses empty hosts, ports out of 1..65535, spaces and control characters.
Result<PeerAddress> ParsePeerAddress(std::string_view text);

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
