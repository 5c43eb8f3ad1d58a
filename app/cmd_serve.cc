// serve (the daemon) and the commands that talk to a running daemon: status,
// peers, peers add, peers remove.
#include <iostream>

#include "base/logging.h"
#include "cli.h"
#include "engine/known_peers.h"
#include "engine/node.h"
#include "hub/home.h"
#include "server/control_socket.h"
#include "server/daemon.h"

namespace nb::cli {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct ServeArgs {
  std::string listen = "0.0.0.0:4441";
  bool no_lan = false;
  bool offline = false;
  std::vector<std::string> peers;
  std::string log_level;
};

bool OfflineFromEnvironment() {
  const char* value = std::getenv("NEARBYTES_OFFLINE");
  return value != nullptr && std::string_view(value) == "1";
}

Result<int> Serve(Context& ctx, const ServeArgs& args) {
  SetLogLevelFromEnvironment();
  if (!args.log_level.empty()) {
    LogLevel level;
    if (!ParseLogLevel(args.log_level, &level)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--log-level must be debug, info, warn or error");
    }
    SetLogLevel(level);
  }
  server::DaemonOptions options;
  options.home = hub::HomeDir();
  // The same roots every command opens; an unavailable extra root is left
  // out with a warning, not a refusal to start.
  std::vector<std::string> warnings;
  options.roots = engine::AvailableRoots(
      engine::HomeNodeOptions(ctx.options.store_path, /*create=*/true), &warnings);
  for (const auto& warning : warnings) std::cerr << "nearbytes: warning: " << warning << "\n";
  options.listen = args.listen;
  options.offline = args.offline || OfflineFromEnvironment();
  options.lan = !args.no_lan;
  options.peers = args.peers;
  NB_ASSIGN_OR_RETURN(auto daemon, server::Daemon::Create(std::move(options)));
  NB_RETURN_IF_ERROR(daemon->Run());
  return 0;
}

Result<int> ShowStatus(Context& ctx) {
  NB_ASSIGN_OR_RETURN(nlohmann::json status,
                      server::CallDaemon(hub::HomeDir(), {{"op", "status"}}));
  if (ctx.options.json) {
    std::cout << status.dump(2) << "\n";
    return 0;
  }
  const auto& daemon = status["daemon"];
  std::cout << "daemon: running (pid " << daemon.value("pid", 0) << ", up "
            << daemon.value("uptime_seconds", 0) << " s)";
  if (daemon.value("offline", false)) std::cout << ", offline (loopback only)";
  std::cout << "\n";
  if (daemon.contains("device_id")) {
    std::cout << "device: " << daemon["device_id"].get<std::string>() << "\n";
  }
  if (daemon.contains("listen")) {
    std::cout << "listening: " << daemon["listen"].get<std::string>() << "\n";
  }
  std::cout << "roots:\n";
  for (const auto& root : status["roots"]) std::cout << "  " << root.get<std::string>() << "\n";
  std::cout << "hubs: " << status["hubs"].size() << "\n";
  for (const auto& hub : status["hubs"]) {
    std::cout << "  " << Printable(hub.value("name", "")) << "  "
              << hub.value("id", "").substr(0, 16) << "...  " << hub.value("events", 0)
              << " events\n";
  }
  const auto& peers = status["peers"];
  size_t connected = 0;
  for (const auto& peer : peers) connected += peer.value("state", "") == "connected";
  std::cout << "peers: " << connected << " connected of " << peers.size()
            << " (details: nearbytes peers)\n";
  for (const auto& transfer : status["transfers"]) {
    std::cout << "  receiving from " << transfer.value("peer", "?") << ": "
              << transfer.value("blocks_in_flight", 0) << " block(s) on the way, "
              << transfer.value("blocks_remaining", 0) << " to go, "
              << HumanBytes(transfer.value("bytes_received", uint64_t{0})) << " received\n";
  }
  return 0;
}

std::string Ago(int64_t seconds) {
  if (seconds < 0) return "never";
  if (seconds < 60) return std::to_string(seconds) + " s ago";
  if (seconds < 3600) return std::to_string(seconds / 60) + " min ago";
  if (seconds < 86400) return std::to_string(seconds / 3600) + " h ago";
  return std::to_string(seconds / 86400) + " days ago";
}

Result<int> ListPeers(Context& ctx) {
  auto answer = server::CallDaemon(hub::HomeDir(), {{"op", "peers"}});
  if (!answer.ok()) {
    if (answer.error().code != ErrorCode::kNotFound) return answer.error();
    // No daemon: say so, and what it would dial.
    std::string known;
    auto peers = engine::KnownPeers::Load(hub::HomeDir());
    if (peers.ok()) {
      for (const auto& address : peers->addresses()) known += (known.empty() ? "" : ", ") + address;
    }
    return MakeError(ErrorCode::kNotFound,
                     answer.error().message + (known.empty() ? "" : "; it will dial " + known));
  }
  if (ctx.options.json) {
    std::cout << answer->dump(2) << "\n";
    return 0;
  }
  const auto& peers = (*answer)["peers"];
  if (peers.empty()) {
    std::cout << "no peers yet; add one with: nearbytes peers add HOST:PORT\n";
    return 0;
  }
  for (const auto& peer : peers) {
    std::cout << peer.value("address", "?") << "  " << peer.value("state", "?");
    if (peer.contains("device_id") && !peer["device_id"].get<std::string>().empty()) {
      std::cout << "  device " << peer["device_id"].get<std::string>();
    }
    std::cout << "\n    hubs shared: " << peer.value("hubs", nlohmann::json::array()).size()
              << "  received " << HumanBytes(peer.value("bytes_in", uint64_t{0})) << "  sent "
              << HumanBytes(peer.value("bytes_out", uint64_t{0})) << "  last seen "
              << Ago(peer.value("last_seen_seconds_ago", int64_t{-1})) << "\n";
    if (peer.contains("last_error") && !peer["last_error"].get<std::string>().empty()) {
      std::cout << "    last error: " << Printable(peer["last_error"].get<std::string>()) << "\n";
    }
  }
  return 0;
}

// peers add / remove: the running daemon records the change and acts on it
// at once; without one, peers.json is changed here for the next start.
Result<int> ChangePeer(Context& ctx, const std::string& text, bool add) {
  NB_ASSIGN_OR_RETURN(engine::PeerAddress address, engine::ParsePeerAddress(text));
  const std::string canonical = address.ToString();
  auto answer = server::CallDaemon(
      hub::HomeDir(), {{"op", add ? "peers.add" : "peers.remove"}, {"address", canonical}});
  bool daemon_running = true;
  bool changed = false;
  if (!answer.ok()) {
    if (answer.error().code != ErrorCode::kNotFound) return answer.error();
    daemon_running = false;
    NB_ASSIGN_OR_RETURN(engine::KnownPeers peers, engine::KnownPeers::Load(hub::HomeDir()));
    changed = add ? peers.Add(address) : peers.Remove(address);
    if (changed) NB_RETURN_IF_ERROR(peers.Save());
  } else {
    changed = answer->value("changed", false);
  }
  if (!add && !changed) {
    return MakeError(ErrorCode::kNotFound,
                     canonical + " is not a known peer (see nearbytes peers)");
  }
  if (ctx.options.json) {
    PrintJson({{"address", canonical}, {"changed", changed}, {"daemon", daemon_running}});
    return 0;
  }
  if (add) {
    std::cout << (changed ? "added " : "already known: ") << canonical;
    std::cout << (daemon_running ? "; the daemon is dialling it (see nearbytes peers)\n"
                                 : "; no daemon is running: `nearbytes serve` will dial it\n");
  } else {
    std::cout << "removed " << canonical << (daemon_running ? "; disconnected\n" : "\n");
  }
  return 0;
}

}  // namespace

void RegisterServeCommands(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the daemon: serve every remembered hub to peers, watch the store for new events, "
      "and answer `nearbytes status` and `nearbytes peers`. Stops cleanly on Ctrl-C or SIGTERM.");
  serve->add_option("--listen", args->listen, "Address for peers to connect to")
      ->type_name("ADDR:PORT")
      ->capture_default_str();
  serve->add_flag("--no-lan", args->no_lan, "Do not announce or look for peers on the LAN");
  serve->add_flag("--offline", args->offline,
                  "Keep to loopback: listen on 127.0.0.1 only, no LAN discovery "
                  "(also NEARBYTES_OFFLINE=1)");
  serve->add_option("--peer", args->peers, "Also dial this peer (repeatable)")
      ->type_name("HOST:PORT");
  serve
      ->add_option("--log-level", args->log_level,
                   "debug, info (default), warn or error (also NEARBYTES_LOG)")
      ->type_name("LEVEL");
  serve->footer(
      "Examples:\n"
      "  nearbytes serve                          # hubs remembered in ~/.nearbytes\n"
      "  NEARBYTES_OFFLINE=1 nearbytes serve      # loopback only\n"
      "  nearbytes serve --listen 0.0.0.0:5000 --peer 192.168.1.20:4441\n"
      "The daemon logs to stderr, one line per event; contrib/nearbytes.service runs it "
      "under systemd.");
  SetCommand(serve, [&ctx, args] { return Serve(ctx, *args); });

  CLI::App* status = app.add_subcommand(
      "status", "Show the running daemon: hubs, roots, peers and transfers in progress");
  status->footer("Examples:\n  nearbytes status\n  nearbytes --json status");
  SetCommand(status, [&ctx] { return ShowStatus(ctx); });

  CLI::App* peers = app.add_subcommand(
      "peers", "List the daemon's peers (connected and known), or add and remove one");
  peers->footer(
      "Examples:\n  nearbytes peers\n  nearbytes peers add 192.168.1.20:4441\n"
      "  nearbytes peers remove 192.168.1.20:4441\n  nearbytes --json peers");
  SetCommand(peers, [&ctx, peers]() -> Result<int> {
    if (!peers->get_subcommands().empty()) return 0;  // `peers add` or `peers remove` ran
    return ListPeers(ctx);
  });
  auto peer_address = std::make_shared<std::string>();
  CLI::App* add = peers->add_subcommand(
      "add", "Dial a peer by address and keep dialling it (remembered in $NEARBYTES_HOME)");
  add->add_option("address", *peer_address, "HOST:PORT (port 4441 if left out)")->required();
  add->footer(
      "Examples:\n  nearbytes peers add 192.168.1.20:4441\n  nearbytes peers add laptop.local");
  SetCommand(add, [&ctx, peer_address] { return ChangePeer(ctx, *peer_address, true); });
  CLI::App* remove = peers->add_subcommand("remove", "Forget a peer and disconnect from it");
  remove->add_option("address", *peer_address, "HOST:PORT, as `nearbytes peers` shows it")
      ->required();
  remove->footer("Examples:\n  nearbytes peers remove 192.168.1.20:4441");
  SetCommand(remove, [&ctx, peer_address] { return ChangePeer(ctx, *peer_address, false); });
}

}  // namespace nb::cli
