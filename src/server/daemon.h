// `nearbytes serve`: one long-running process per home that serves every hub
// whose secret is remembered there.
//
// What it does, all on one io_context thread:
//  - holds two locks (the home and the primary storage root), so two daemons
//    never serve one store and never share a control socket;
//  - opens each remembered hub and watches its channel directories in every
//    root (inotify, log/channel_watcher.h): events written by CLI commands,
//    by folder sync or dropped in by a cloud client are noticed at once and
//    handed to the carriers;
//  - watches the home's secrets file, so `nearbytes hub create` (or open)
//    in another terminal starts serving that hub without a restart;
//  - answers CLI commands on the control socket (server/control_socket.h);
//  - stops cleanly on SIGTERM or SIGINT: listeners close, transfers stop,
//    nothing is half-published (blocks and events are published atomically).
// It logs one line per event to stderr (base/logging.h), which suits
// systemd (contrib/nearbytes.service).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace nb::server {

struct DaemonOptions {
  std::filesystem::path home;
  // The store's roots; [0] is the primary.
  std::vector<std::filesystem::path> roots;
  // Where the sync listener binds. Port 0 picks a free port (status shows it).
  std::string listen = "0.0.0.0:4441";
  bool lan = true;
  // NEARBYTES_OFFLINE=1: the daemon keeps to loopback (the listener binds
  // 127.0.0.1, no LAN discovery).
  bool offline = false;
  // Peers to dial besides the remembered ones (--peer).
  std::vector<std::string> peers;
};

class Daemon {
 public:
  // Takes the locks, opens the store, the device key and the hubs, binds the
  // listeners. Errors here are one line for the person starting it.
  static Result<std::unique_ptr<Daemon>> Create(DaemonOptions options);
  ~Daemon();

  // Runs until SIGTERM/SIGINT (or Stop from another thread).
  Status Run();
  void Stop();

 private:
  struct State;
  explicit Daemon(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace nb::server
