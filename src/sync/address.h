// Addresses of the socket carrier: where a daemon listens and which peers it
// dials. One strict parser for both, so a listen address, a dialled peer and
// a remembered one follow the same rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace nb::sync {

constexpr uint16_t kDefaultSyncPort = 4441;

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 0;
  std::string ToString() const;  // host:port, [v6]:port
};

enum class PortRule {
  kPeer,    // a peer to dial: the port may be left out (4441), 0 is refused
  kListen,  // where to listen: the port is required, 0 picks a free one
};

// Accepts host:port and [v6]:port (and, for a peer, a bare host). Refuses
// empty hosts, ports out of range, spaces and control characters, and text
// longer than 300 bytes, with one line that says what to write instead.
Result<HostPort> ParseHostPort(std::string_view text, PortRule rule);

}  // namespace nb::sync
