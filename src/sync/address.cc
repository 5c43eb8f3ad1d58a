#include "sync/address.h"

#include <charconv>

namespace nb::sync {

namespace {

constexpr size_t kMaxAddressLength = 300;

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> ParseHostPort(std::string_view text, PortRule rule) {
  auto bad = [&](const std::string& why) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "'" + std::string(text.substr(0, 80)) + "' is not " +
            (rule == PortRule::kPeer ? "a peer address (" : "an address to listen on (") + why +
            "; write HOST:PORT, e.g. 192.168.1.20:4441 or [fe80::1%eth0]:4441)");
  };
  if (text.empty()) return bad("it is empty");
  if (text.size() > kMaxAddressLength) return bad("it is too long");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("it contains a space");
  }
  HostPort address;
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
    if (rule == PortRule::kListen) return bad("the port is missing");
    address.port = kDefaultSyncPort;
  } else {
    unsigned value = 0;
    auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (error != std::errc() || end != port_text.data() + port_text.size() ||
        (value == 0 && rule == PortRule::kPeer) || value > 65535) {
      return bad(rule == PortRule::kPeer ? "the port must be a number from 1 to 65535"
                                         : "the port must be a number from 0 to 65535");
    }
    address.port = static_cast<uint16_t>(value);
  }
  return address;
}

}  // namespace nb::sync
