#include "sync/lan_discovery.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <set>

#include "base/logging.h"
#include "crypto/point_compression.h"
#include "crypto/random.h"
#include "hub/hub.h"

namespace nb::sync {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// Packets accepted for inspection: per source address, and in total. A real
// node sends a handful every few seconds; these only stop floods.
constexpr double kSourceRate = 20;  // per second
constexpr double kSourceBurst = 40;
constexpr double kTotalRate = 200;
constexpr double kTotalBurst = 400;
constexpr size_t kMaxSources = 1024;
constexpr size_t kMaxKnownPeers = 256;
constexpr size_t kRecentNonces = 32;
constexpr size_t kMaxEndpointsPerPeer = 8;
constexpr int kMaxConsecutiveReceiveErrors = 100;

template <typename Map>
void EvictOldest(Map& map, auto last_used) {
  auto oldest = map.begin();
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (last_used(it->second) < last_used(oldest->second)) oldest = it;
  }
  if (oldest != map.end()) map.erase(oldest);
}

}  // namespace

// ---- LanPeerFilter ----

LanPeerFilter::LanPeerFilter(const crypto::PublicKey& own_key,
                             std::chrono::milliseconds report_interval)
    : own_key_(crypto::CompressPublicKey(own_key)), report_interval_(report_interval) {
  total_budget_.tokens = kTotalBurst;
}

bool LanPeerFilter::Take(Bucket& bucket, double rate, double burst, Clock::time_point now) {
  if (now > bucket.refilled) {
    double seconds = std::chrono::duration<double>(now - bucket.refilled).count();
    bucket.tokens = std::min(burst, bucket.tokens + seconds * rate);
  }
  bucket.refilled = std::max(bucket.refilled, now);
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

std::optional<LanPeer> LanPeerFilter::Accept(ByteSpan datagram, const asio::ip::address& source,
                                             Clock::time_point now) {
  // Budgets first: everything after this costs HMACs.
  auto source_it = source_budgets_.find(source);
  if (source_it == source_budgets_.end()) {
    if (source_budgets_.size() >= kMaxSources) {
      EvictOldest(source_budgets_, [](const Bucket& b) { return b.refilled; });
    }
    source_it = source_budgets_.emplace(source, Bucket{kSourceBurst, now}).first;
  }
  if (!Take(source_it->second, kSourceRate, kSourceBurst, now)) return std::nullopt;
  if (!Take(total_budget_, kTotalRate, kTotalBurst, now)) return std::nullopt;

  auto announcement = DecodeLanAnnouncement(datagram);
  if (!announcement.ok()) {
    NB_LOG(kDebug, "lan") << "ignored a datagram from " << source.to_string() << ": "
                          << announcement.error().message;
    return std::nullopt;
  }
  if (announcement->instance_key == own_key_) return std::nullopt;
  std::vector<std::string> hub_ids = MatchLanAnnouncement(*announcement, hubs_);
  if (hub_ids.empty()) return std::nullopt;
  std::sort(hub_ids.begin(), hub_ids.end());

  // Only members get this far, so this map holds members' keys (bounded all the same).
  std::string known_key(AsChars(announcement->instance_key));
  auto known_it = known_.find(known_key);
  if (known_it == known_.end()) {
    if (known_.size() >= kMaxKnownPeers) {
      EvictOldest(known_, [](const Known& k) { return k.last_seen; });
    }
    known_it = known_.emplace(known_key, Known{}).first;
  }
  Known& known = known_it->second;
  known.last_seen = now;
  // A sender never reuses a nonce: a repeat is a replay (perhaps from another
  // address, to make us dial somewhere else).
  if (std::find(known.recent_nonces.begin(), known.recent_nonces.end(), announcement->nonce) !=
      known.recent_nonces.end()) {
    return std::nullopt;
  }
  known.recent_nonces.push_back(announcement->nonce);
  if (known.recent_nonces.size() > kRecentNonces) known.recent_nonces.pop_front();

  auto reported =
      std::find_if(known.reported.begin(), known.reported.end(), [&](const Reported& r) {
        return r.address == source && r.sync_port == announcement->sync_port;
      });
  if (reported != known.reported.end() && now - reported->when < report_interval_ &&
      std::includes(reported->hub_ids.begin(), reported->hub_ids.end(), hub_ids.begin(),
                    hub_ids.end())) {
    return std::nullopt;
  }
  auto key = crypto::DecompressPublicKey(announcement->instance_key);
  if (!key.ok()) {
    NB_LOG(kDebug, "lan") << "ignored an announcement from " << source.to_string() << ": "
                          << key.error().message;
    return std::nullopt;
  }
  if (reported == known.reported.end()) {
    if (known.reported.size() >= kMaxEndpointsPerPeer) {
      known.reported.erase(
          std::min_element(known.reported.begin(), known.reported.end(),
                           [](const Reported& a, const Reported& b) { return a.when < b.when; }));
    }
    known.reported.push_back(Reported{source, announcement->sync_port, now, {}});
    reported = known.reported.end() - 1;
  } else if (now - reported->when < report_interval_) {
    // A hub not reported yet within the interval: report the union, so a
    // sender whose hubs span several packets is not reported once per packet.
    std::vector<std::string> merged;
    std::set_union(reported->hub_ids.begin(), reported->hub_ids.end(), hub_ids.begin(),
                   hub_ids.end(), std::back_inserter(merged));
    hub_ids = std::move(merged);
  }
  reported->when = now;
  reported->hub_ids = hub_ids;
  return LanPeer{source, announcement->sync_port, std::move(key).value(), std::move(hub_ids)};
}

// ---- LanDiscovery ----

struct LanDiscovery::Receiver {
  Receiver(asio::io_context& io, bool v4) : socket(io), is_v4(v4) {}
  udp::socket socket;
  bool is_v4;
  udp::endpoint sender;
  std::array<uint8_t, kLanMaxPacketSize + 1> buffer{};  // one more, to see oversize packets
  int consecutive_errors = 0;
};

struct LanDiscovery::Link {
  explicit Link(asio::io_context& io) : sender(io) {}
  std::string name;
  unsigned index = 0;
  asio::ip::address_v4 address_v4;  // IPv4 links: the interface's address
  udp::socket sender;
  bool seen = false;  // during a refresh
};

LanDiscovery::LanDiscovery(asio::io_context& io, crypto::PublicKey instance_key, LanOptions options)
    : io_(io),
      instance_key_(std::move(instance_key)),
      compressed_key_(crypto::CompressPublicKey(instance_key_)),
      options_(std::move(options)),
      filter_(instance_key_, options_.report_interval),
      timer_(io) {}

LanDiscovery::~LanDiscovery() { Stop(); }

void LanDiscovery::SetHubs(const std::vector<const hub::HubKeys*>& hubs) {
  hubs_.clear();
  for (const hub::HubKeys* hub : hubs) {
    if (hub != nullptr) hubs_.push_back(DeriveLanHubKey(*hub));
  }
  filter_.SetHubs(hubs_);
  if (started_) ScheduleTick(std::chrono::milliseconds(0));
}

void LanDiscovery::SetSyncPort(uint16_t port) {
  if (port == sync_port_) return;
  sync_port_ = port;
  if (started_) ScheduleTick(std::chrono::milliseconds(0));
}

Status LanDiscovery::Start() {
  if (started_) return Status();
  alive_ = std::make_shared<int>(0);
  std::string failures;
  auto open = [&](udp protocol, const asio::ip::address& any) {
    auto receiver = std::make_unique<Receiver>(io_, protocol == udp::v4());
    boost::system::error_code ec;
    receiver->socket.open(protocol, ec);
    if (!ec && protocol == udp::v6()) receiver->socket.set_option(asio::ip::v6_only(true), ec);
    // Several nodes on one host (tests, two stores) all bind the port.
    if (!ec) receiver->socket.set_option(udp::socket::reuse_address(true), ec);
    if (!ec) receiver->socket.bind(udp::endpoint(any, options_.port), ec);
    if (ec) {
      failures += std::string(failures.empty() ? "" : "; ") +
                  (protocol == udp::v4() ? "IPv4: " : "IPv6: ") + ec.message();
      return;
    }
    receivers_.push_back(std::move(receiver));
  };
  if (options_.ipv4) open(udp::v4(), asio::ip::address_v4::any());
  if (options_.ipv6) open(udp::v6(), asio::ip::address_v6::any());
  if (receivers_.empty()) {
    return MakeError(ErrorCode::kIo, "LAN discovery could not bind UDP port " +
                                         std::to_string(options_.port) +
                                         (failures.empty() ? "" : ": " + failures));
  }
  if (!failures.empty()) {
    NB_LOG(kWarn, "lan") << "LAN discovery partly unavailable: " << failures;
  }
  started_ = true;
  for (auto& receiver : receivers_) Receive(receiver.get());
  RefreshLinks();
  NB_LOG(kInfo, "lan") << "LAN discovery on UDP port " << options_.port << " (" << links_.size()
                       << " interface addresses)";
  ScheduleTick(std::chrono::milliseconds(0));
  return Status();
}

void LanDiscovery::Stop() {
  if (!started_) return;
  started_ = false;
  alive_.reset();
  boost::system::error_code ec;
  timer_.cancel();
  for (auto& receiver : receivers_) receiver->socket.close(ec);
  for (auto& [key, link] : links_) link->sender.close(ec);
  // Closing queues the pending receives as aborted; their handlers check
  // `alive` before touching anything, so the objects can go now (and a
  // later Start begins afresh).
  receivers_.clear();
  links_.clear();
}

void LanDiscovery::ScheduleTick(std::chrono::milliseconds delay) {
  // Resetting the expiry cancels a pending wait (its handler sees an error).
  timer_.expires_after(delay);
  std::weak_ptr<int> alive = alive_;
  timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    Tick();
  });
}

void LanDiscovery::Tick() {
  RefreshLinks();
  AnnounceOnAllLinks();
  // ±20% jitter.
  uint16_t random = 0;
  crypto::RandomFill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&random), sizeof(random)));
  double factor = 0.8 + 0.4 * (random / 65535.0);
  auto delay = std::chrono::milliseconds(
      std::max<int64_t>(1, static_cast<int64_t>(options_.interval.count() * factor)));
  ScheduleTick(delay);
}

void LanDiscovery::RefreshLinks() {
  for (auto& [key, link] : links_) link->seen = false;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    NB_LOG(kWarn, "lan") << "cannot list network interfaces";
    return;
  }
  udp::socket* receiver_v4 = nullptr;
  udp::socket* receiver_v6 = nullptr;
  for (auto& receiver : receivers_) {
    (receiver->is_v4 ? receiver_v4 : receiver_v6) = &receiver->socket;
  }
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    unsigned flags = entry->ifa_flags;
    if ((flags & IFF_UP) == 0 || (flags & IFF_MULTICAST) == 0 || (flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    unsigned index = if_nametoindex(entry->ifa_name);
    if (index == 0) continue;
    int family = entry->ifa_addr->sa_family;
    asio::ip::address_v4 v4;
    if (family == AF_INET && receiver_v4 != nullptr) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
      v4 = asio::ip::address_v4(ntohl(sin->sin_addr.s_addr));
    } else if (family == AF_INET6 && receiver_v6 != nullptr) {
      // IPv6 goes out link-local only: the interface needs an fe80:: address
      // to send from (a peer dials it back with the scope id).
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr);
      if (!IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr)) continue;
    } else {
      continue;
    }
    auto key = std::make_pair(family == AF_INET ? 4 : 6, index);
    auto found = links_.find(key);
    if (found != links_.end()) {
      found->second->seen = true;
      continue;
    }
    auto link = std::make_unique<Link>(io_);
    link->name = entry->ifa_name;
    link->index = index;
    link->address_v4 = v4;
    link->seen = true;
    boost::system::error_code ec;
    if (family == AF_INET) {
      receiver_v4->set_option(asio::ip::multicast::join_group(options_.group_v4, v4), ec);
      if (ec) {
        NB_LOG(kDebug, "lan") << "joining the IPv4 group on " << link->name << ": " << ec.message();
      }
      ec.clear();
      link->sender.open(udp::v4(), ec);
      if (!ec) link->sender.set_option(asio::ip::multicast::outbound_interface(v4), ec);
      // Bound to the interface's address, so that is the source peers dial back.
      if (!ec) link->sender.bind(udp::endpoint(v4, 0), ec);
    } else {
      receiver_v6->set_option(asio::ip::multicast::join_group(options_.group_v6, index), ec);
      if (ec) {
        NB_LOG(kDebug, "lan") << "joining the IPv6 group on " << link->name << ": " << ec.message();
      }
      ec.clear();
      link->sender.open(udp::v6(), ec);
      if (!ec) link->sender.set_option(asio::ip::multicast::outbound_interface(index), ec);
    }
    // Only this link; and looped back, so two nodes on one host see each other.
    if (!ec) link->sender.set_option(asio::ip::multicast::hops(1), ec);
    if (!ec) link->sender.set_option(asio::ip::multicast::enable_loopback(true), ec);
    // A send that would block is dropped: the next announcement comes soon.
    if (!ec) link->sender.non_blocking(true, ec);
    if (ec) {
      NB_LOG(kWarn, "lan") << "cannot announce on " << link->name << ": " << ec.message();
      continue;  // retried at the next refresh
    }
    NB_LOG(kDebug, "lan") << "announcing on " << link->name << " (IPv" << key.first << ")";
    links_.emplace(key, std::move(link));
  }
  freeifaddrs(list);
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->second->seen) {
      ++it;
      continue;
    }
    boost::system::error_code ec;
    for (auto& receiver : receivers_) {
      bool v4 = receiver->is_v4;
      if (v4 && it->first.first == 4) {
        receiver->socket.set_option(
            asio::ip::multicast::leave_group(options_.group_v4, it->second->address_v4), ec);
      } else if (!v4 && it->first.first == 6) {
        receiver->socket.set_option(
            asio::ip::multicast::leave_group(options_.group_v6, it->second->index), ec);
      }
    }
    it->second->sender.close(ec);
    it = links_.erase(it);
  }
}

void LanDiscovery::AnnounceOnAllLinks() {
  if (sync_port_ == 0 || hubs_.empty()) return;
  for (auto& [key, link] : links_) {
    udp::endpoint destination;
    if (key.first == 4) {
      destination = udp::endpoint(options_.group_v4, options_.port);
    } else {
      asio::ip::address_v6 group = options_.group_v6;
      group.scope_id(link->index);
      destination = udp::endpoint(group, options_.port);
    }
    // Fresh packets (fresh nonces) per link: a host on two of our links
    // sees two announcements, not one replayed.
    for (const Bytes& packet : EncodeLanAnnouncements(compressed_key_, sync_port_, hubs_)) {
      boost::system::error_code ec;
      link->sender.send_to(asio::buffer(packet), destination, 0, ec);
      if (ec) {
        NB_LOG(kDebug, "lan") << "announcement on " << link->name << " not sent: " << ec.message();
      }
    }
  }
}

void LanDiscovery::Receive(Receiver* receiver) {
  std::weak_ptr<int> alive = alive_;
  receiver->socket.async_receive_from(
      asio::buffer(receiver->buffer), receiver->sender,
      [this, alive, receiver](const boost::system::error_code& ec, size_t size) {
        if (alive.expired() || ec == asio::error::operation_aborted) return;
        if (ec) {
          // A UDP socket's errors are transient (an ICMP report, a signal);
          // a socket that only fails is given up rather than spun on.
          if (++receiver->consecutive_errors > kMaxConsecutiveReceiveErrors) {
            NB_LOG(kError, "lan") << "LAN discovery stops receiving: " << ec.message();
            return;
          }
          Receive(receiver);
          return;
        }
        receiver->consecutive_errors = 0;
        std::optional<LanPeer> peer =
            filter_.Accept(ByteSpan(receiver->buffer.data(), size), receiver->sender.address(),
                           LanPeerFilter::Clock::now());
        if (peer) {
          NB_LOG(kInfo, "lan") << "peer " << peer->address.to_string() << " port "
                               << peer->sync_port << " shares " << peer->hub_ids.size()
                               << (peer->hub_ids.size() == 1 ? " hub" : " hubs");
          if (on_peer) on_peer(*peer);
        }
        // on_peer may have stopped us.
        if (!alive.expired()) Receive(receiver);
      });
}

}  // namespace nb::sync
