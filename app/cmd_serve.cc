// serve (the daemon) and the commands that talk to a running daemon: status.
#include <iostream>

#include "base/logging.h"
#include "cli.h"
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
  options.roots.push_back(ctx.StorePath());
  if (ctx.options.store_path.empty()) {
    for (const auto& extra : hub::LoadExtraRoots()) options.roots.push_back(extra);
  }
  options.listen = args.listen;
  options.offline = args.offline || OfflineFromEnvironment();
  options.lan = !args.no_lan;
  options.peers = args.peers;
  NB_ASSIGN_OR_RETURN(auto daemon, server::Daemon::Create(std::move(options)));
  NB_RETURN_IF_ERROR(daemon->Run());
  return 0;
}

Result<int> Status(Context& ctx) {
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
  SetCommand(status, [&ctx] { return Status(ctx); });
}

}  // namespace nb::cli
