// The socket carrier (DESIGN.md §5.2; protocol: docs/sync-protocol.md).
//
// A SyncService listens for and dials peers over TLS 1.3 between instance
// keys, finds the hubs both sides hold without naming them to anyone else
// (per-session private tags, then a signature with each hub key bound to the
// session), reconciles each common hub's event hashes (negentropy v1), sends
// the events the other side lacks, then the blocks their references name
// that it lacks (streamed in chunks, hashed on arrival, published atomically;
// a block is never held whole in memory), and then stays up: new local
// events reach every connected member at once.
//
// What arrives is checked before anything is published: an event's hash,
// signature and channel exactly as every carrier does (log/event.h), a
// block's hash over its streamed bytes. A peer that sends anything malformed,
// forged, oversized or endless is disconnected with one logged line, and
// nothing it sent half-way is published.
//
// Events are published as soon as they verify; the blocks they name follow
// (a reading meanwhile sees a file whose content is not here yet, as after
// any interrupted carry). Blocks referenced by events both sides hold but
// missing on one side are fetched too (repair).
//
// Threads: the protocol runs on the io_context's thread. Every method must be
// called on that thread (post to it from elsewhere), callbacks run on it.
// Event files are read and published inline (they are small); block bytes
// are not: served blocks are read and hashed ahead on a reader thread
// (block_sender.h), received ones written and published in batches on a
// writer and a committer thread (block_receiver.h), so encryption, disk and
// syncs overlap instead of taking turns.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/sha256.h"
#include "hub/hub.h"
#include "log/event.h"
#include "store/store.h"

namespace nb::sync::peer {

struct SyncServiceOptions {
  // Largest frame accepted or sent (type and body; 4-byte length header
  // aside). A larger announced length disconnects the peer.
  size_t max_frame = (size_t{1} << 20) + 64;
  // Bytes of a block per data frame.
  size_t block_chunk = size_t{256} << 10;
  // TLS handshake plus membership exchange must finish within this.
  int handshake_timeout_ms = 10000;
  // A connection that receives nothing (pings included) for this long, or
  // whose pending write makes no progress for this long, is closed. Pings
  // go out after a third of it without traffic.
  int idle_timeout_ms = 30000;
  // Block requests outstanding per connection (ours to the peer; a peer
  // exceeding it towards us is disconnected).
  size_t max_blocks_in_flight = 64;
  // Negentropy rounds per hub and connection before the peer is cut off.
  size_t max_reconcile_rounds = 256;
  // Bytes of frames queued to one peer before it is cut off for not reading.
  size_t max_queued_bytes = size_t{32} << 20;
  // Event hashes one peer may have asked for and not yet received.
  size_t max_wanted_events = 1u << 20;
  // Hubs offered in a hello (more are not offered; logged).
  size_t max_hubs_offered = 1024;
  // Inbound connections at once; more are refused at accept.
  size_t max_inbound = 64;
  // Redial backoff: first delay, doubled after each failure up to the cap.
  int redial_initial_ms = 250;
  int redial_max_ms = 30000;
};

struct PeerStatus {
  std::string device_id;  // empty until the TLS handshake is done
  std::string address;    // host:port dialed, or the remote end of an accepted socket
  enum class Direction { kOutbound, kInbound } direction = Direction::kOutbound;
  // "dialing", "handshake", "reconciling", "syncing" (blocks or events
  // pending), "idle" (up to date, connection kept), "waiting" (to redial)
  std::string state;
  std::vector<std::string> hubs;  // hub ids both sides proved membership of
  uint64_t bytes_in = 0;          // TLS payload bytes (frames) received
  uint64_t bytes_out = 0;
  int64_t last_seen_unix_ms = 0;  // last frame received; 0: never
  size_t blocks_in_flight = 0;    // requested from this peer, not yet arrived
  uint64_t bytes_in_flight = 0;   // of the block arriving now: bytes still to come
  size_t blocks_remaining = 0;    // blocks we want that this peer may have
  std::string last_error;         // why the last connection ended (for "waiting")
};

class SyncService {
 public:
  // `store` and every hub added must outlive the service.
  SyncService(boost::asio::io_context& io, crypto::PrivateKey instance_key, store::Store* store,
              SyncServiceOptions options = {});
  ~SyncService();  // Stop()
  SyncService(const SyncService&) = delete;
  SyncService& operator=(const SyncService&) = delete;

  // Serves this hub: lists its events once (what each references is
  // remembered in <state dir>/sync/<hub id>.refs, as for the folder carrier).
  // Connections already up are closed and redialed so the new hub is
  // offered (membership is settled once per session).
  void AddHub(hub::Hub* hub);
  // Stops serving a hub (its secret was forgotten): connections are closed
  // and redialed without it. The hub may be destroyed once this returns.
  void RemoveHub(const std::string& hub_id);
  // "0.0.0.0:4441", "[::]:4441", "127.0.0.1:0" (an ephemeral port).
  Status Listen(const std::string& address);
  uint16_t bound_port() const;
  // Dials `host_port` and keeps redialing with backoff while not connected.
  void AddPeer(const std::string& host_port);
  void RemovePeer(const std::string& host_port);
  // New local events of a hub: sent to every connected member now.
  void OnLocalEvents(const std::string& hub_id, const std::vector<crypto::Hash256>& events);
  // The same, for events the caller has just validated (log/event.h): they
  // are not read and checked again.
  void OnLocalEvents(const std::string& hub_id, const std::vector<log::ValidEvent>& events);
  // Called after events received from a peer are published.
  std::function<void(const std::string& hub_id, const std::vector<crypto::Hash256>& events)>
      on_events_received;
  // Called after a block received from a peer is published.
  std::function<void(const crypto::Hash256& block)> on_block_received;

  std::vector<PeerStatus> Peers() const;
  // "ABCD-EFGH-IJKL-MNOP": base32 of SHA-256(instance public key), 16 chars.
  std::string device_id() const;
  // Graceful: stops accepting and dialing, closes every connection; a block
  // being received is dropped (its temp file removed; nothing half-published).
  void Stop();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The short device id of an instance public key (see device_id()).
std::string DeviceIdOf(const crypto::PublicKey& key);

}  // namespace nb::sync::peer
