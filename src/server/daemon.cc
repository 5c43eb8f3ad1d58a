#include "server/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <map>

#include "base/logging.h"
#include "engine/known_peers.h"
#include "hub/hub.h"
#include "hub/instance_key.h"
#include "hub/keyring.h"
#include "log/channel_watcher.h"
#include "server/control_socket.h"
#include "store/file_io.h"
#include "store/store.h"
#include "sync/lan_discovery.h"
#include "sync/peer/sync_service.h"

namespace nb::server {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// An exclusive flock held for the daemon's life. The kernel drops it when the
// process dies, so a daemon killed with -9 never leaves a stale lock.
class FileLock {
 public:
  static Result<FileLock> Take(const fs::path& path, const std::string& what) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return MakeError(ErrorCode::kIo,
                       "cannot open " + path.string() + ": " + store::ErrnoText(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return MakeError(ErrorCode::kInvalidArgument, "another daemon is already serving " + what +
                                                          " (lock " + path.string() + ")");
      }
      return MakeError(ErrorCode::kIo,
                       "cannot lock " + path.string() + ": " + store::ErrnoText(err));
    }
    // The holder's pid, for a person looking at the file.
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) {
      [[maybe_unused]] ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Lets asio wait on `fd` through a duplicate, which asio closes; the
// original stays with its owner (the watcher). Null if dup fails.
std::unique_ptr<asio::posix::stream_descriptor> WatchDescriptor(asio::io_context& io, int fd) {
  int copy = ::dup(fd);
  if (copy < 0) return nullptr;
  return std::make_unique<asio::posix::stream_descriptor>(io, copy);
}

}  // namespace

struct Daemon::State {
  DaemonOptions options;
  asio::io_context io;
  asio::signal_set signals{io};
  std::vector<FileLock> locks;
  std::unique_ptr<store::Store> store;
  std::optional<crypto::PrivateKey> instance_key;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();

  struct ServedHub {
    std::unique_ptr<hub::Hub> hub;
    std::unique_ptr<log::ChannelWatcher> watcher;
    std::unique_ptr<asio::posix::stream_descriptor> watch;
    uint64_t events_seen = 0;  // noticed by the watcher since start
  };
  std::map<std::string, ServedHub> hubs;

  // inotify on the home, for the secrets file.
  int home_inotify = -1;
  std::unique_ptr<asio::posix::stream_descriptor> home_watch;
  std::unique_ptr<ControlServer> control;
  std::unique_ptr<sync::peer::SyncService> sync;
  std::string listen_address;  // as bound
  std::unique_ptr<sync::LanDiscovery> lan;
  std::optional<engine::KnownPeers> known_peers;
  bool stopping = false;

  ~State() {
    // The carriers refer to the hubs: they go first.
    lan.reset();
    sync.reset();
    hubs.clear();
    home_watch.reset();
    if (home_inotify >= 0) ::close(home_inotify);
  }

  void LoadHubs();
  void ServeHub(const std::string& id, const std::string& secret);
  void WatchHub(ServedHub& served);
  void WatchHome();
  // Events the watcher found and validated: straight to the carrier.
  void OnNewLocalEvents(const std::string& hub_id, const std::vector<log::ValidEvent>& events);
  nlohmann::json HandleControl(const nlohmann::json& request);
  nlohmann::json StatusJson();
  void BeginStop(const char* why);
  Status StartCarriers();
  void OnLanPeer(const sync::LanPeer& peer);
  void UpdateLanHubs();
  nlohmann::json PeersJson();
  nlohmann::json ChangePeer(const nlohmann::json& request, bool add);
};

void Daemon::State::LoadHubs() {
  auto keyring = hub::Keyring::Load(options.home);
  if (!keyring.ok()) {
    NB_LOG(kError, "hubs") << keyring.error().message;
    return;
  }
  for (const auto& [id, secret] : keyring->secrets()) {
    if (hubs.count(id) == 0) ServeHub(id, secret);
  }
  // A hub forgotten by `nearbytes hub forget` stops being served.
  for (auto it = hubs.begin(); it != hubs.end();) {
    if (keyring->secrets().count(it->first) == 0) {
      NB_LOG(kInfo, "hubs") << "no longer serving hub " << it->second.hub->keys().display_name()
                            << " (" << it->first.substr(0, 16) << "...): its secret was forgotten";
      if (sync) sync->RemoveHub(it->first);
      it = hubs.erase(it);
    } else {
      ++it;
    }
  }
}

void Daemon::State::ServeHub(const std::string& id, const std::string& secret) {
  auto keys = hub::HubKeys::FromSecret(secret);
  if (!keys.ok() || keys->id() != id) {
    NB_LOG(kWarn, "hubs") << "the remembered secret for hub " << id.substr(0, 16)
                          << "... does not open it; skipped";
    return;
  }
  auto opened = hub::Hub::Open(store.get(), std::move(*keys), /*create=*/true);
  if (!opened.ok()) {
    NB_LOG(kWarn, "hubs") << "cannot serve hub " << id.substr(0, 16)
                          << "...: " << opened.error().message;
    return;
  }
  ServedHub served;
  served.hub = std::move(*opened);
  auto watcher = log::ChannelWatcher::Start(&served.hub->log());
  if (!watcher.ok()) {
    NB_LOG(kWarn, "hubs") << "hub " << id.substr(0, 16) << "...: " << watcher.error().message
                          << "; new local events reach peers only at the next reconciliation";
  } else {
    served.watcher = std::move(*watcher);
  }
  NB_LOG(kInfo, "hubs") << "serving hub " << served.hub->keys().display_name() << " ("
                        << id.substr(0, 16) << "...)";
  auto [it, inserted] = hubs.emplace(id, std::move(served));
  if (it->second.watcher) WatchHub(it->second);
  if (sync) sync->AddHub(it->second.hub.get());
  UpdateLanHubs();
}

void Daemon::State::WatchHub(ServedHub& served) {
  if (!served.watch) {
    served.watch = WatchDescriptor(io, served.watcher->fd());
    if (!served.watch) {
      NB_LOG(kWarn, "hubs") << "cannot watch hub " << served.hub->id().substr(0, 16)
                            << "...: " << store::ErrnoText(errno);
      return;
    }
  }
  const std::string id = served.hub->id();
  served.watch->async_wait(asio::posix::stream_descriptor::wait_read,
                           [this, id](boost::system::error_code error) {
                             if (error || stopping) return;
                             auto it = hubs.find(id);
                             if (it == hubs.end() || !it->second.watcher) return;
                             auto events = it->second.watcher->Wait(0);
                             if (!events.ok()) {
                               NB_LOG(kWarn, "hubs") << "watching hub " << id.substr(0, 16)
                                                     << "...: " << events.error().message;
                             } else if (!events->empty()) {
                               it->second.events_seen += events->size();
                               OnNewLocalEvents(id, *events);
                             }
                             WatchHub(it->second);
                           });
}

void Daemon::State::OnNewLocalEvents(const std::string& hub_id,
                                     const std::vector<log::ValidEvent>& events) {
  NB_LOG(kDebug, "hubs") << events.size() << " new event(s) in hub " << hub_id.substr(0, 16)
                         << "...";
  if (sync) sync->OnLocalEvents(hub_id, events);
}

Status Daemon::State::StartCarriers() {
  sync = std::make_unique<sync::peer::SyncService>(io, *instance_key, store.get());
  sync->on_events_received = [this](const std::string& hub_id,
                                    const std::vector<crypto::Hash256>& events) {
    // Published by the carrier: the watcher need not report them again (that
    // would echo them back to the peers).
    auto it = hubs.find(hub_id);
    if (it == hubs.end() || !it->second.watcher) return;
    for (const auto& hash : events) it->second.watcher->MarkKnown(hash);
  };
  std::string listen = options.listen;
  if (options.offline) {
    // Loopback only, whatever --listen said: keep its port. (A malformed
    // address is left for Listen to refuse.)
    auto address = sync::ParseHostPort(listen, sync::PortRule::kListen);
    if (address.ok()) listen = sync::HostPort{"127.0.0.1", address->port}.ToString();
  }
  Status listening = sync->Listen(listen);
  if (!listening.ok()) {
    return MakeError(ErrorCode::kIo, "cannot listen for peers on " + listen + ": " +
                                         listening.error().message +
                                         " (choose another with --listen ADDR:PORT)");
  }
  auto bound = sync::ParseHostPort(listen, sync::PortRule::kListen);  // Listen accepted it
  listen_address = sync::HostPort{bound.ok() ? bound->host : listen, sync->bound_port()}.ToString();
  for (const auto& address : known_peers->addresses()) sync->AddPeer(address);
  for (const auto& text : options.peers) {
    auto address = engine::ParsePeerAddress(text);
    if (!address.ok()) {
      NB_LOG(kWarn, "sync") << address.error().message;
      continue;
    }
    sync->AddPeer(address->ToString());
  }
  if (options.lan && !options.offline) {
    lan = std::make_unique<sync::LanDiscovery>(io, instance_key->public_key());
    lan->on_peer = [this](const sync::LanPeer& peer) { OnLanPeer(peer); };
    lan->SetSyncPort(sync->bound_port());
    UpdateLanHubs();
    Status started = lan->Start();
    if (!started.ok()) {
      NB_LOG(kWarn, "lan") << "LAN discovery is off: " << started.error().message;
      lan.reset();
    } else {
      NB_LOG(kInfo, "lan") << "announcing hubs on the LAN (only members recognise them)";
    }
  }
  return Status::Ok();
}

void Daemon::State::UpdateLanHubs() {
  if (!lan) return;
  std::vector<const hub::HubKeys*> keys;
  for (const auto& [id, served] : hubs) keys.push_back(&served.hub->keys());
  lan->SetHubs(keys);
}

void Daemon::State::OnLanPeer(const sync::LanPeer& peer) {
  if (!sync) return;
  // Both sides hear each other: only the one with the smaller key dials, so
  // a pair keeps one connection.
  if (!(instance_key->public_key().bytes() < peer.instance_key.bytes())) return;
  std::string host = peer.address.to_string();
  std::string address = peer.address.is_v6() ? "[" + host + "]:" + std::to_string(peer.sync_port)
                                             : host + ":" + std::to_string(peer.sync_port);
  NB_LOG(kInfo, "lan") << "found a member of " << peer.hub_ids.size() << " hub(s) at " << address
                       << " (device " << sync::peer::DeviceIdOf(peer.instance_key) << ")";
  sync->AddPeer(address);
}

nlohmann::json Daemon::State::PeersJson() {
  nlohmann::json list = nlohmann::json::array();
  if (!sync) return list;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const auto& peer : sync->Peers()) {
    // A person's view of the carrier's states: connected (with what it is
    // doing), or on the way there.
    std::string state = peer.state;
    std::string activity;
    if (state == "reconciling" || state == "syncing" || state == "idle") {
      activity = state;
      state = "connected";
    } else if (state == "handshake") {
      state = "connecting";
    }
    nlohmann::json item = {
        {"address", peer.address},
        {"device_id", peer.device_id},
        {"direction",
         peer.direction == sync::peer::PeerStatus::Direction::kOutbound ? "outbound" : "inbound"},
        {"state", state},
        {"hubs", peer.hubs},
        {"bytes_in", peer.bytes_in},
        {"bytes_out", peer.bytes_out},
        {"last_seen_seconds_ago",
         peer.last_seen_unix_ms > 0 ? (now_ms - peer.last_seen_unix_ms) / 1000 : -1},
        {"blocks_in_flight", peer.blocks_in_flight},
        {"bytes_in_flight", peer.bytes_in_flight},
        {"blocks_remaining", peer.blocks_remaining},
        {"last_error", peer.last_error},
    };
    if (!activity.empty()) item["activity"] = activity;
    list.push_back(std::move(item));
  }
  return list;
}

nlohmann::json Daemon::State::ChangePeer(const nlohmann::json& request, bool add) {
  if (!request.contains("address") || !request["address"].is_string()) {
    return {{"error", {{"message", "an address is needed"}}}};
  }
  auto address = engine::ParsePeerAddress(request["address"].get<std::string>());
  if (!address.ok()) return {{"error", {{"message", address.error().message}}}};
  const std::string text = address->ToString();
  bool changed = add ? known_peers->Add(*address) : known_peers->Remove(*address);
  if (changed) {
    Status saved = known_peers->Save();
    if (!saved.ok()) return {{"error", {{"message", saved.error().message}}}};
  }
  if (add) {
    sync->AddPeer(text);
    NB_LOG(kInfo, "sync") << "peer " << text << " added";
  } else if (changed) {
    sync->RemovePeer(text);
    NB_LOG(kInfo, "sync") << "peer " << text << " removed";
  }
  return {{"changed", changed}, {"address", text}};
}

void Daemon::State::WatchHome() {
  if (home_inotify < 0) {
    home_inotify = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (home_inotify < 0 ||
        ::inotify_add_watch(home_inotify, options.home.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
      NB_LOG(kWarn, "hubs") << "cannot watch " << options.home.string()
                            << "; hubs remembered later are served after a restart";
      return;
    }
    home_watch = WatchDescriptor(io, home_inotify);
    if (!home_watch) return;
  }
  home_watch->async_wait(asio::posix::stream_descriptor::wait_read,
                         [this](boost::system::error_code error) {
                           if (error || stopping) return;
                           alignas(inotify_event) char buffer[4096];
                           bool secrets_changed = false;
                           for (;;) {
                             ssize_t n = ::read(home_inotify, buffer, sizeof(buffer));
                             if (n <= 0) break;
                             for (ssize_t at = 0; at < n;) {
                               auto* event = reinterpret_cast<inotify_event*>(buffer + at);
                               if (event->len > 0 && std::string_view(event->name) == "secrets") {
                                 secrets_changed = true;
                               }
                               at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
                             }
                           }
                           if (secrets_changed) LoadHubs();
                           WatchHome();
                         });
}

nlohmann::json Daemon::State::StatusJson() {
  using namespace std::chrono;
  nlohmann::json daemon = {
      {"pid", ::getpid()},
      {"home", options.home.string()},
      {"started", duration_cast<seconds>(started.time_since_epoch()).count()},
      {"uptime_seconds", duration_cast<seconds>(system_clock::now() - started).count()},
      {"offline", options.offline},
      {"lan", lan != nullptr},
  };
  if (sync) {
    daemon["device_id"] = sync->device_id();
    daemon["listen"] = listen_address;
  }
  nlohmann::json roots = nlohmann::json::array();
  for (const auto& root : store->roots()) roots.push_back(root.path().string());
  nlohmann::json hub_list = nlohmann::json::array();
  for (const auto& [id, served] : hubs) {
    auto events = store->ListEvents(id);
    hub_list.push_back({{"id", id},
                        {"name", served.hub->keys().display_name()},
                        {"events", events.ok() ? events->size() : 0},
                        {"watched", served.watcher != nullptr},
                        {"new_events_noticed", served.events_seen}});
  }
  nlohmann::json peers = PeersJson();
  // Transfers in progress: blocks on their way from each peer.
  nlohmann::json transfers = nlohmann::json::array();
  for (const auto& peer : peers) {
    if (peer["blocks_in_flight"].get<size_t>() == 0 &&
        peer["blocks_remaining"].get<size_t>() == 0) {
      continue;
    }
    transfers.push_back({{"peer", peer["address"]},
                         {"blocks_in_flight", peer["blocks_in_flight"]},
                         {"bytes_in_flight", peer["bytes_in_flight"]},
                         {"blocks_remaining", peer["blocks_remaining"]},
                         {"bytes_received", peer["bytes_in"]}});
  }
  return {{"daemon", daemon},
          {"roots", roots},
          {"hubs", hub_list},
          {"peers", peers},
          {"transfers", transfers}};
}

nlohmann::json Daemon::State::HandleControl(const nlohmann::json& request) {
  const std::string op = request["op"].get<std::string>();
  if (op == "status") return StatusJson();
  if (op == "peers") return {{"peers", PeersJson()}};
  if (op == "peers.add") return ChangePeer(request, true);
  if (op == "peers.remove") return ChangePeer(request, false);
  if (op == "stop") {
    BeginStop("asked to stop on the control socket");
    return {{"stopping", true}};
  }
  return {{"error", {{"message", "unknown request '" + op + "'"}}}};
}

void Daemon::State::BeginStop(const char* why) {
  if (stopping) return;
  stopping = true;
  NB_LOG(kInfo, "daemon") << "stopping: " << why;
  boost::system::error_code ignored;
  signals.cancel(ignored);
  if (control) control->Stop();
  if (lan) lan->Stop();
  if (sync) sync->Stop();
  for (auto& [id, served] : hubs) {
    if (served.watch) served.watch->cancel(ignored);
  }
  if (home_watch) home_watch->cancel(ignored);
}

Daemon::Daemon(std::unique_ptr<State> state) : state_(std::move(state)) {}
Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::Create(DaemonOptions options) {
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  DaemonOptions& opts = state->options;
  if (opts.roots.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no storage root to serve");
  }
  NB_RETURN_IF_ERROR(store::EnsureDirectory(opts.home));
  NB_ASSIGN_OR_RETURN(FileLock home_lock,
                      FileLock::Take(opts.home / "daemon.lock", opts.home.string()));
  state->locks.push_back(std::move(home_lock));
  NB_ASSIGN_OR_RETURN(state->store, store::Store::Open(opts.roots, /*create_primary=*/true));
  const fs::path primary = state->store->primary().path();
  NB_RETURN_IF_ERROR(store::EnsureDirectory(primary / ".nearbytes"));
  NB_ASSIGN_OR_RETURN(FileLock store_lock,
                      FileLock::Take(primary / ".nearbytes" / "daemon.lock", primary.string()));
  state->locks.push_back(std::move(store_lock));
  NB_ASSIGN_OR_RETURN(crypto::PrivateKey key, hub::LoadOrCreateInstanceKey(opts.home));
  state->instance_key = std::move(key);

  State* raw = state.get();
  NB_ASSIGN_OR_RETURN(state->control, ControlServer::Start(state->io, ControlSocketPath(opts.home),
                                                           [raw](const nlohmann::json& request) {
                                                             return raw->HandleControl(request);
                                                           }));
  NB_ASSIGN_OR_RETURN(engine::KnownPeers known_peers, engine::KnownPeers::Load(opts.home));
  state->known_peers = std::move(known_peers);
  NB_RETURN_IF_ERROR(state->StartCarriers());
  state->WatchHome();
  state->LoadHubs();
  return std::unique_ptr<Daemon>(new Daemon(std::move(state)));
}

Status Daemon::Run() {
  State& s = *state_;
  s.signals.add(SIGINT);
  s.signals.add(SIGTERM);
  s.signals.async_wait([&s](boost::system::error_code error, int signal) {
    if (error) return;
    s.BeginStop(signal == SIGTERM ? "SIGTERM" : "SIGINT");
  });
  NB_LOG(kInfo, "daemon") << "serving " << s.hubs.size() << " hub(s) from "
                          << s.store->primary().path().string() << "; control socket "
                          << ControlSocketPath(s.options.home).string();
  s.io.run();
  NB_LOG(kInfo, "daemon") << "stopped";
  return Status();
}

void Daemon::Stop() {
  asio::post(state_->io, [s = state_.get()] { s->BeginStop("asked to stop"); });
}

}  // namespace nb::server
