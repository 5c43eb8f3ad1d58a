// lan_probe: runs one LanDiscovery for a bounded time and prints each peer it
// reports, so tests can run several in network namespaces and compare.
//
//   lan_probe --secret S [--secret S2 ...] --sync-port P --seconds N
//             [--port 4442] [--interval-ms 5000] [--no-ipv4] [--no-ipv6]
//             [--later-secret S --later-ms M]
//
// --later-secret adds a hub M ms after the start (SetHubs again), to test
// that a change of hubs is announced at once.
// Prints "hub <id>" per secret, then "peer <address> <sync port> <id>[,<id>...]"
// per report, on stdout, one line each, flushed. A fresh random instance key
// is made per run. Exit 0 after N seconds; 2 on bad arguments or if
// discovery cannot start.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "base/logging.h"
#include "crypto/random.h"
#include "hub/hub.h"
#include "sync/lan_discovery.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "lan_probe: " << message << "\n";
  return 2;
}

bool ParseNumber(const std::string& text, uint64_t max, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out <= max;
}

}  // namespace

int main(int argc, char** argv) {
  nb::SetLogLevelFromEnvironment();
  std::vector<std::string> secrets;
  std::string later_secret;
  uint64_t sync_port = 0, seconds = 0, port = nb::sync::kLanDefaultPort, interval_ms = 5000;
  uint64_t later_ms = 0;
  nb::sync::LanOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--no-ipv4") {
      options.ipv4 = false;
    } else if (arg == "--no-ipv6") {
      options.ipv6 = false;
    } else if (arg == "--secret" || arg == "--sync-port" || arg == "--seconds" || arg == "--port" ||
               arg == "--interval-ms" || arg == "--later-secret" || arg == "--later-ms") {
      if ((v = value()) == nullptr) return Fail(arg + " needs a value");
      bool ok = true;
      if (arg == "--secret") secrets.push_back(v);
      if (arg == "--later-secret") later_secret = v;
      if (arg == "--later-ms") ok = ParseNumber(v, 3600000, &later_ms);
      if (arg == "--sync-port") ok = ParseNumber(v, 65535, &sync_port) && sync_port != 0;
      if (arg == "--seconds") ok = ParseNumber(v, 3600, &seconds);
      if (arg == "--port") ok = ParseNumber(v, 65535, &port) && port != 0;
      if (arg == "--interval-ms") ok = ParseNumber(v, 3600000, &interval_ms) && interval_ms != 0;
      if (!ok) return Fail("bad value for " + arg + ": " + v);
    } else {
      return Fail("unknown argument " + arg);
    }
  }
  if (secrets.empty() || sync_port == 0 || seconds == 0) {
    return Fail("usage: lan_probe --secret S... --sync-port P --seconds N");
  }
  options.port = static_cast<uint16_t>(port);
  options.interval = std::chrono::milliseconds(interval_ms);

  std::vector<nb::hub::HubKeys> hubs;
  for (const std::string& secret : secrets) {
    auto keys = nb::hub::HubKeys::FromSecret(secret);
    if (!keys.ok()) return Fail(keys.error().message);
    std::cout << "hub " << keys->id() << std::endl;
    hubs.push_back(std::move(keys).value());
  }
  std::optional<nb::hub::HubKeys> later_hub;
  if (!later_secret.empty()) {
    auto keys = nb::hub::HubKeys::FromSecret(later_secret);
    if (!keys.ok()) return Fail(keys.error().message);
    later_hub = std::move(keys).value();
  }
  auto hub_pointers = [&] {
    std::vector<const nb::hub::HubKeys*> pointers;
    for (const auto& hub : hubs) pointers.push_back(&hub);
    return pointers;
  };

  nb::crypto::PrivateKey instance_key = [] {
    for (;;) {
      nb::crypto::Scalar scalar;
      nb::crypto::RandomFill(scalar);
      auto key = nb::crypto::PrivateKey::FromScalar(scalar);
      if (key.ok()) return std::move(key).value();
    }
  }();

  boost::asio::io_context io;
  nb::sync::LanDiscovery discovery(io, instance_key.public_key(), options);
  discovery.SetHubs(hub_pointers());
  discovery.SetSyncPort(static_cast<uint16_t>(sync_port));
  discovery.on_peer = [](const nb::sync::LanPeer& peer) {
    std::string ids;
    for (const auto& id : peer.hub_ids) ids += (ids.empty() ? "" : ",") + id;
    std::cout << "peer " << peer.address.to_string() << " " << peer.sync_port << " " << ids
              << std::endl;
  };
  if (auto status = discovery.Start(); !status.ok()) return Fail(status.error().message);
  boost::asio::steady_timer later(io, std::chrono::milliseconds(later_ms));
  if (later_hub) {
    later.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      std::cout << "hub " << later_hub->id() << std::endl;
      hubs.push_back(*later_hub);
      discovery.SetHubs(hub_pointers());
    });
  }
  io.run_for(std::chrono::seconds(seconds));
  discovery.Stop();
  return 0;
}
