// LAN discovery: members of a hub on the same link find each other without
// configuration, and nobody without the hub's secret learns anything.
//
// Every node multicasts an announcement (lan_announcement.h, layout in
// docs/lan-discovery.md) on IPv4 (group 239.255.44.41) and on IPv6 link-local
// (ff02::6e62:6c61, on each multicast interface) to UDP port 4442: at Start,
// every `interval` (with ±20% jitter, so nodes started together drift apart)
// and soon after the hub list or the sync port changes. It carries the
// instance key, the sync port and per-hub tags only members can compute.
//
// A received announcement whose tags match one of our hubs becomes a LanPeer
// handed to `on_peer`: the caller dials it (the TLS carrier then proves the
// instance key and each hub's membership; an announcement alone proves
// nothing, anyone on the link can replay one). The same peer at the same
// address and port is reported again only after `report_interval`, unless
// it announces a hub not reported yet; so a flood cannot make the caller
// dial in a loop. Per-packet work is one HMAC per local hub, and packets are
// rate-limited per source and in total before any of it.
//
// Threading: one thread at a time. Call every method, and run the io_context,
// from one thread (the daemon's event loop); on_peer runs on that thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/ecdsa.h"
#include "sync/lan_announcement.h"

namespace nb::hub {
class HubKeys;
}

namespace nb::sync {

struct LanPeer {
  // Where the announcement came from; an IPv6 link-local address carries the
  // scope id (interface) it arrived on, so it can be dialled as it is.
  boost::asio::ip::address address;
  uint16_t sync_port = 0;
  crypto::PublicKey instance_key;    // claimed, not proven: the TLS handshake proves it
  std::vector<std::string> hub_ids;  // our hubs whose tags it carried
};

struct LanOptions {
  uint16_t port = kLanDefaultPort;
  std::chrono::milliseconds interval{5000};
  bool ipv4 = true;
  bool ipv6 = true;
  boost::asio::ip::address_v4 group_v4 = boost::asio::ip::make_address_v4("239.255.44.41");
  boost::asio::ip::address_v6 group_v6 = boost::asio::ip::make_address_v6("ff02::6e62:6c61");
  std::chrono::milliseconds report_interval{10000};
};

// The receiving half without sockets: datagram in, peer (or nothing) out.
// Separate so it can be tested with forged packets and a fake clock.
class LanPeerFilter {
 public:
  using Clock = std::chrono::steady_clock;

  LanPeerFilter(const crypto::PublicKey& own_key, std::chrono::milliseconds report_interval);

  void SetHubs(std::vector<LanHubKey> hubs) { hubs_ = std::move(hubs); }

  // Returns the peer to report, or nothing: over the rate limit, not an
  // announcement, our own, no hub in common, a replayed nonce, a key that is
  // not on the curve, or already reported recently.
  std::optional<LanPeer> Accept(ByteSpan datagram, const boost::asio::ip::address& source,
                                Clock::time_point now);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled;
  };
  struct Reported {
    boost::asio::ip::address address;
    uint16_t sync_port = 0;
    Clock::time_point when;
    std::vector<std::string> hub_ids;  // sorted
  };
  struct Known {
    Clock::time_point last_seen;
    std::deque<LanNonce> recent_nonces;
    std::vector<Reported> reported;
  };

  static bool Take(Bucket& bucket, double rate, double burst, Clock::time_point now);

  Bytes own_key_;  // compressed
  std::chrono::milliseconds report_interval_;
  std::vector<LanHubKey> hubs_;
  Bucket total_budget_;
  std::map<boost::asio::ip::address, Bucket> source_budgets_;
  std::map<std::string, Known> known_;  // by compressed instance key (raw bytes)
};

class LanDiscovery {
 public:
  LanDiscovery(boost::asio::io_context& io, crypto::PublicKey instance_key,
               LanOptions options = {});
  ~LanDiscovery();
  LanDiscovery(const LanDiscovery&) = delete;
  LanDiscovery& operator=(const LanDiscovery&) = delete;

  // The hubs to announce and to recognise (only a key derived from each is
  // kept, not the pointers). Announces soon if started.
  void SetHubs(const std::vector<const hub::HubKeys*>& hubs);
  // The port our sync listener accepts on; nothing is announced while it is 0.
  void SetSyncPort(uint16_t port);

  // Binds the discovery port and joins the groups on every multicast
  // interface (re-scanned at each announcement, so links that come up later
  // are used). Fails only if no enabled family could be bound.
  Status Start();
  // Closes the sockets; pending handlers finish without effect. Idempotent.
  void Stop();

  std::function<void(const LanPeer&)> on_peer;

 private:
  struct Link;
  struct Receiver;  // one per bound family

  void Tick();
  void ScheduleTick(std::chrono::milliseconds delay);
  void RefreshLinks();
  void AnnounceOnAllLinks();
  void Receive(Receiver* receiver);

  boost::asio::io_context& io_;
  crypto::PublicKey instance_key_;
  Bytes compressed_key_;
  LanOptions options_;
  LanPeerFilter filter_;
  std::vector<LanHubKey> hubs_;
  uint16_t sync_port_ = 0;
  bool started_ = false;
  boost::asio::steady_timer timer_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::map<std::pair<int, unsigned>, std::unique_ptr<Link>> links_;  // (4|6, ifindex)
  // Handlers hold a weak copy: after Stop or destruction they do nothing.
  std::shared_ptr<int> alive_;
};

}  // namespace nb::sync
