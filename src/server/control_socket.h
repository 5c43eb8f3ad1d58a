// The daemon's control socket: how CLI commands on this machine reach a
// running `nearbytes serve` (peers, status). A Unix socket at
// $NEARBYTES_HOME/control.sock, mode 0600, so only this user can talk to it.
//
// Protocol: the client sends one JSON object on one line ({"op": "status"}),
// the daemon answers with one JSON object on one line and closes. A request
// is at most 64 KiB; an answer at most 16 MiB. An answer with an "error"
// member ({"error": {"message": "..."}}) is a refusal.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/status.h"

namespace nb::server {

constexpr size_t kMaxControlRequest = 64 << 10;
constexpr size_t kMaxControlAnswer = 16 << 20;

std::filesystem::path ControlSocketPath(const std::filesystem::path& home);

// Serves requests on the io_context's thread. The handler returns the answer.
class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  // Binds the socket (replacing a stale file: the caller holds the daemon
  // lock, so no live daemon owns it) and starts accepting.
  static Result<std::unique_ptr<ControlServer>> Start(boost::asio::io_context& io,
                                                      const std::filesystem::path& path,
                                                      Handler handler);
  ~ControlServer();
  void Stop();

 private:
  ControlServer(boost::asio::io_context& io, std::filesystem::path path, Handler handler);
  void Accept();

  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::filesystem::path path_;
  Handler handler_;
};

// Sends one request and waits (at most `timeout_ms`) for the answer. When no
// daemon listens, the error is kNotFound with a message that says so.
Result<nlohmann::json> CallDaemon(const std::filesystem::path& home, const nlohmann::json& request,
                                  int timeout_ms = 5000);

}  // namespace nb::server
