#include "server/control_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/logging.h"

namespace nb::server {

namespace asio = boost::asio;
using Local = asio::local::stream_protocol;

std::filesystem::path ControlSocketPath(const std::filesystem::path& home) {
  return home / "control.sock";
}

namespace {

// One connection: read a line, answer it, close.
class ControlConnection : public std::enable_shared_from_this<ControlConnection> {
 public:
  ControlConnection(Local::socket socket, ControlServer::Handler* handler)
      : socket_(std::move(socket)), buffer_(kMaxControlRequest), handler_(handler) {}

  void Start() {
    auto self = shared_from_this();
    asio::async_read_until(
        socket_, buffer_, '\n',
        [self](boost::system::error_code error, size_t length) { self->OnRequest(error, length); });
  }

 private:
  void OnRequest(boost::system::error_code error, size_t length) {
    nlohmann::json answer;
    if (error) {
      if (error == asio::error::eof) return;
      answer = {{"error", {{"message", "request too long or unreadable"}}}};
    } else {
      std::string line(asio::buffers_begin(buffer_.data()),
                       asio::buffers_begin(buffer_.data()) + static_cast<long>(length));
      auto request = nlohmann::json::parse(line, nullptr, false);
      if (!request.is_object() || !request.contains("op") || !request["op"].is_string()) {
        answer = {{"error", {{"message", "a request is a JSON object with an \"op\""}}}};
      } else {
        answer = (*handler_)(request);
      }
    }
    reply_ = answer.dump() + "\n";
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(reply_), [self](boost::system::error_code, size_t) {
      boost::system::error_code ignored;
      self->socket_.shutdown(Local::socket::shutdown_both, ignored);
    });
  }

  Local::socket socket_;
  asio::streambuf buffer_;
  ControlServer::Handler* handler_;
  std::string reply_;
};

}  // namespace

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path path, Handler handler)
    : acceptor_(io), path_(std::move(path)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { Stop(); }

Result<std::unique_ptr<ControlServer>> ControlServer::Start(asio::io_context& io,
                                                            const std::filesystem::path& path,
                                                            Handler handler) {
  if (path.native().size() >= sizeof(sockaddr_un::sun_path)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the control socket path is too long for a Unix socket: " + path.string() +
                         " (use a shorter NEARBYTES_HOME)");
  }
  std::unique_ptr<ControlServer> server(new ControlServer(io, path, std::move(handler)));
  ::unlink(path.c_str());  // stale from a daemon that was killed; we hold the lock
  boost::system::error_code error;
  server->acceptor_.open(Local(), error);
  if (!error) {
    // Bind under a strict umask so the socket is never briefly open to others.
    mode_t old_mask = ::umask(077);
    server->acceptor_.bind(Local::endpoint(path.string()), error);
    ::umask(old_mask);
  }
  if (!error) ::chmod(path.c_str(), 0600);
  if (!error) server->acceptor_.listen(16, error);
  if (error) {
    return MakeError(ErrorCode::kIo, "cannot listen on " + path.string() + ": " + error.message());
  }
  server->Accept();
  return server;
}

void ControlServer::Accept() {
  acceptor_.async_accept([this](boost::system::error_code error, Local::socket socket) {
    if (error) {
      if (error != asio::error::operation_aborted) {
        NB_LOG(kWarn, "control") << "accept failed: " << error.message();
        Accept();
      }
      return;
    }
    std::make_shared<ControlConnection>(std::move(socket), &handler_)->Start();
    Accept();
  });
}

void ControlServer::Stop() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
}

namespace {

// Waits for `events` on `fd` until `deadline`; false on timeout.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

Result<nlohmann::json> CallDaemon(const std::filesystem::path& home, const nlohmann::json& request,
                                  int timeout_ms) {
  const std::filesystem::path path = ControlSocketPath(home);
  const Error no_daemon{ErrorCode::kNotFound, "no daemon is running for " + home.string() +
                                                  " (start one with: nearbytes serve)"};
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.native().size() >= sizeof(address.sun_path)) return no_daemon;
  std::memcpy(address.sun_path, path.c_str(), path.native().size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return no_daemon;
    return MakeError(ErrorCode::kIo,
                     "cannot reach the daemon at " + path.string() + ": " + std::strerror(errno));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string line = request.dump() + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    if (!WaitFor(fd, POLLOUT, deadline)) break;
    ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (sent < line.size()) {
    return MakeError(ErrorCode::kIo, "the daemon did not take the request (" + path.string() + ")");
  }
  std::string answer;
  char buffer[16384];
  while (answer.find('\n') == std::string::npos) {
    if (!WaitFor(fd, POLLIN, deadline)) {
      return MakeError(ErrorCode::kIo,
                       "the daemon did not answer within " + std::to_string(timeout_ms) + " ms");
    }
    ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (answer.size() > kMaxControlAnswer) {
      return MakeError(ErrorCode::kCorrupt, "the daemon's answer is too long");
    }
  }
  auto doc = nlohmann::json::parse(answer, nullptr, false);
  if (!doc.is_object()) {
    return MakeError(ErrorCode::kCorrupt, "the daemon's answer is not JSON");
  }
  if (doc.contains("error")) {
    std::string message = "the daemon refused";
    if (doc["error"].is_object() && doc["error"].contains("message") &&
        doc["error"]["message"].is_string()) {
      message = doc["error"]["message"].get<std::string>();
    }
    return MakeError(ErrorCode::kInvalidArgument, message);
  }
  return doc;
}

}  // namespace nb::server
