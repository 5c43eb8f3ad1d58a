#include "sync/peer/sync_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/logging.h"
#include "base/parallel.h"
#include "crypto/random.h"
#include "crypto/tls.h"
#include "log/event.h"
#include "store/batch_publisher.h"
#include "store/file_io.h"
#include "sync/address.h"
#include "sync/event_refs.h"
#include "sync/negentropy.h"
#include "sync/peer/block_receiver.h"
#include "sync/peer/block_sender.h"
#include "sync/peer/membership.h"
#include "sync/peer/wire.h"

namespace nb::sync::peer {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using crypto::Hash256;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxHelloTags = 4096;   // refused above this (bounds the work of matching)
constexpr size_t kMinOffer = 8;          // offers are padded to a power of two, at least this
constexpr size_t kMaxReasonBytes = 200;  // of a peer's close reason we log
// Frames up to this size are read into their own buffer (see body_).
constexpr size_t kSmallFrameMax = size_t{64} << 10;
// Ciphertext per socket read or write: many TLS records per system call.
constexpr size_t kSocketIoBytes = size_t{256} << 10;
// Events received in one frame above which they are published with one
// syncfs (BatchPublisher) rather than an fsync pair each.
constexpr size_t kBatchPublishAbove = 4;
int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

negentropy::Id IdOf(const Hash256& hash) { return hash.bytes; }
Hash256 HashOf(const negentropy::Id& id) {
  Hash256 h;
  h.bytes = id;
  return h;
}

std::string Short(const std::string& hub_id) { return hub_id.substr(0, 12) + "..."; }

}  // namespace

std::string DeviceIdOf(const crypto::PublicKey& key) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  Hash256 digest = crypto::Sha256(key.bytes());
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : digest.bytes) {
    buffer = buffer << 8 | byte;
    bits += 8;
    while (bits >= 5 && out.size() < 19) {
      if (out.size() % 5 == 4) out.push_back('-');
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
    if (out.size() >= 19) break;
  }
  return out;
}

// One hub served: its event set (kept for reconciliation, grown in place),
// what each event references, and the blocks we want.
// The file bytes of events this process validated a moment ago (learned
// locally or received), so sending them on needs no second read and
// signature check. Oldest first out, bounded in bytes.
class RecentEventBytes {
 public:
  static constexpr size_t kMaxBytes = size_t{16} << 20;
  void Put(const Hash256& hash, std::string bytes) {
    if (bytes.size() > kMaxBytes || by_hash_.count(hash)) return;
    total_ += bytes.size();
    by_hash_.emplace(hash, std::move(bytes));
    order_.push_back(hash);
    while (total_ > kMaxBytes && !order_.empty()) {
      auto it = by_hash_.find(order_.front());
      total_ -= it->second.size();
      by_hash_.erase(it);
      order_.pop_front();
    }
  }
  const std::string* Find(const Hash256& hash) const {
    auto it = by_hash_.find(hash);
    return it == by_hash_.end() ? nullptr : &it->second;
  }

 private:
  std::unordered_map<Hash256, std::string> by_hash_;
  std::deque<Hash256> order_;
  size_t total_ = 0;
};

struct HubState {
  hub::Hub* hub = nullptr;
  RecentEventBytes recent;
  std::string id;
  Bytes tag_key;
  negentropy::Storage storage;
  EventRefsCache refs;
  // Every hash some event of the hub references (blocks may be served only
  // if they are named here: a member of one hub cannot fetch another's).
  std::unordered_set<Hash256> referenced;
  // Referenced blocks we lack (ordered: requests go out in a stable order).
  std::set<Hash256> wanted;
  // Missing block -> events whose manifest chunks are unknown until it comes.
  std::unordered_map<Hash256, std::vector<Hash256>> awaiting;
};

class Connection;

class SyncService::Impl : public std::enable_shared_from_this<SyncService::Impl> {
 public:
  Impl(asio::io_context& io, crypto::PrivateKey key, store::Store* store,
       SyncServiceOptions options);

  asio::io_context& io_;
  crypto::PrivateKey key_;
  store::Store* store_;
  SyncServiceOptions options_;
  ssl::context tls_{ssl::context::tls};
  Status tls_ready_;
  std::string device_id_;
  std::map<std::string, std::unique_ptr<HubState>> hubs_;
  // Hubs no longer served. Connections that were closing when the hub went
  // may still hold pointers to its state, so it is kept (without its hub)
  // until the service goes; forgetting a hub is rare.
  std::vector<std::unique_ptr<HubState>> retired_hubs_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  uint16_t bound_port_ = 0;
  struct DialEntry {
    std::string address;
    int backoff_ms = 0;
    std::unique_ptr<asio::steady_timer> timer;
    std::weak_ptr<Connection> conn;
    std::optional<Bytes> peer_key;
    std::string last_error;
  };
  std::map<std::string, DialEntry> dials_;
  std::set<std::shared_ptr<Connection>> conns_;
  // Blocks asked for and not yet published: requested, arriving, being
  // verified or waiting for their batch to be durable. Not asked for again.
  std::unordered_set<Hash256> blocks_inflight_;
  // Received blocks are hashed, written and published off this thread
  // (sync/peer/block_receiver.h); created on first use.
  std::unique_ptr<BlockReceiver> receiver_;
  // Served blocks are read and hashed ahead on a reader thread
  // (sync/peer/block_sender.h); created on first use.
  std::unique_ptr<BlockSender> sender_;
  BlockSender& Sender() {
    if (!sender_) sender_ = std::make_unique<BlockSender>(io_);
    return *sender_;
  }
  // Blocks whose last byte arrived, by job, until verified: who sent them.
  std::unordered_map<BlockReceiver::Job, std::weak_ptr<Connection>> verifying_;
  BlockReceiver& Receiver();
  void OnBlockChecked(BlockReceiver::Job job, const Hash256& hash,
                      const std::optional<Error>& problem);
  void OnBlocksPublished(const std::vector<Hash256>& hashes);
  void OnPublishFailed(const std::vector<Hash256>& hashes, const Error& error);
  void ResumeReading();
  bool stopped_ = false;
  std::function<void(const std::string&, const std::vector<Hash256>&)>* on_events_ = nullptr;
  std::function<void(const Hash256&)>* on_block_ = nullptr;

  void AddHub(hub::Hub* hub);
  void RemoveHub(const std::string& hub_id);
  Status Listen(const std::string& address);
  void Accept();
  void AddPeer(const std::string& address);
  void RemovePeer(const std::string& address);
  void ScheduleDial(const std::string& address, int delay_ms);
  void Dial(const std::string& address);
  void OnLocalEvents(const std::string& hub_id, const std::vector<Hash256>& events);
  void OnLocalValidEvents(const std::string& hub_id, const std::vector<log::ValidEvent>& events);
  std::vector<PeerStatus> Peers() const;
  void Stop();

  // Called by connections.
  void OnReady(Connection* conn);
  void OnClosed(const std::shared_ptr<Connection>& conn, const std::string& reason, bool was_ready);
  // Adds validated events to the hub's set and references; returns the new.
  std::vector<Hash256> Learn(HubState& hub, const std::vector<log::ValidEvent>& events);
  void AfterEventsReceived(HubState& hub, const std::vector<Hash256>& events, Connection* from);
  void AfterBlockPublished(const Hash256& block);
  void PushEvents(HubState& hub, const std::vector<Hash256>& events, Connection* except);
  void ScheduleAllBlocks();

 private:
  EventRefs RefsOf(HubState& hub, const log::ValidEvent& event);
  void Register(HubState& hub, const Hash256& event, const EventRefs& refs);
};

// One TLS connection to a peer, from TCP connect to close.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Phase { kConnecting, kHandshake, kReady, kClosed };

  Connection(SyncService::Impl* svc, tcp::socket socket, bool outbound, std::string address)
      : svc_(svc),
        opt_(svc->options_),
        socket_(std::move(socket)),
        outbound_(outbound),
        address_(std::move(address)),
        handshake_timer_(svc->io_),
        tick_timer_(svc->io_) {}

  // Outbound: resolve and connect first.
  void StartDial(const std::string& host, const std::string& port);
  void StartAccepted();
  void Close(const std::string& reason, LogLevel level = LogLevel::kWarn);

  bool closed() const { return phase_ == Phase::kClosed; }
  bool ready() const { return phase_ == Phase::kReady; }
  bool outbound() const { return outbound_; }
  const std::string& address() const { return address_; }
  const std::optional<crypto::PublicKey>& peer_key() const { return peer_key_; }
  std::optional<uint16_t> ChannelOf(const HubState* hub) const {
    for (const auto& [ch, h] : active_) {
      if (h == hub) return ch;
    }
    return std::nullopt;
  }
  void QueueEvents(uint16_t ch, const std::vector<Hash256>& events) {
    for (const auto& e : events) event_queue_.emplace_back(ch, e);
    Pump();
  }
  void ForgetLacks() { peer_lacks_.clear(); }
  void ResumeReading();
  void ScheduleBlocks();
  PeerStatus Describe() const;
  const std::string& dial_address() const { return dial_address_; }
  void set_dial_address(std::string a) { dial_address_ = std::move(a); }
  Clock::time_point started() const { return started_; }

 private:
  void StartTls();
  void OnTlsUp();
  void HandshakeStep();
  void ReadCipher();
  // Decrypts into dst until `size` bytes are there (fill_got_ counts them
  // across calls); false: not yet (a socket read was started, or closed).
  bool Fill(uint8_t* dst, size_t size);
  void ReadFrames();
  Status HandleFrame(uint8_t type, ByteSpan body);
  Status OnHello(FrameReader& r);
  Status OnProof(FrameReader& r);
  Status OnReconcile(FrameReader& r, bool from_initiator);
  Status OnEvents(FrameReader& r);
  Status OnWantEvents(FrameReader& r);
  Status OnGetBlock(FrameReader& r);
  Status OnBlockBegin(FrameReader& r);
  Status OnBlockData(FrameReader& r);
  Status OnBlockEnd(FrameReader& r);
  Result<HubState*> Channel(std::optional<uint16_t> ch);
  void StartReconcile(uint16_t ch, HubState* hub);
  void Send(Bytes frame);
  void Pump();
  bool ProduceEventFrame(Bytes* out);
  // A block-data frame goes to *data (in sent_chunk_), others to *out.
  bool ProduceBlockFrame(Bytes* out, ByteSpan* data);
  void Tick();
  Error Protocol(const std::string& what) { return MakeError(ErrorCode::kCorrupt, what); }

  SyncService::Impl* svc_;
  const SyncServiceOptions& opt_;
  tcp::socket socket_;
  // TLS over memory buffers (crypto/tls.h Session): ciphertext moves between
  // it and the socket in reads and writes of up to kSocketIoBytes, many
  // records per system call.
  std::unique_ptr<crypto::tls::Session> session_;
  bool tls_up_ = false;   // handshake done: frames may flow
  Bytes cipher_in_;       // one socket read
  Bytes cipher_out_;      // one socket write
  size_t plain_out_ = 0;  // frame bytes in cipher_out_ (for bytes_out)
  bool outbound_;
  std::string address_;
  std::string dial_address_;
  Phase phase_ = Phase::kConnecting;
  asio::steady_timer handshake_timer_;
  asio::steady_timer tick_timer_;
  std::shared_ptr<tcp::resolver> resolver_;
  Clock::time_point started_ = Clock::now();

  std::optional<crypto::PublicKey> peer_key_;
  Bytes exporter_;
  std::vector<HubState*> offer_hubs_;  // by index in our hello; nullptr: padding
  bool got_hello_ = false, got_proof_ = false;
  std::map<uint16_t, HubState*> matched_;  // tags matched both ways
  std::map<uint16_t, HubState*> active_;   // the peer's proof verified too

  struct Run {
    std::unique_ptr<negentropy::Reconciler> reconciler;
    size_t rounds = 0;
    bool done = false;
  };
  std::map<uint16_t, Run> runs_;

  // Reading.
  uint8_t header_[kFrameHeaderSize];
  // Frame bodies: small ones (control, events) in small_body_, large ones
  // (block data) in body_, so that neither shrinks and grows again from
  // frame to frame (growing a vector zero-fills the new bytes).
  Bytes body_, small_body_;
  Bytes* frame_ = &small_body_;  // the one the frame being read goes into
  bool read_paused_ = false;     // flow control (ReadFrames)
  bool header_done_ = false;     // header_ read, body_ next
  size_t fill_got_ = 0;
  Clock::time_point last_recv_ = Clock::now();
  // Writing: control frames first, then events asked for, then block data.
  std::deque<Bytes> out_;
  size_t out_bytes_ = 0;
  Bytes writing_;
  bool write_pending_ = false;
  Clock::time_point write_started_ = Clock::now();
  Clock::time_point last_send_ = Clock::now();
  std::deque<std::pair<uint16_t, Hash256>> event_queue_;

  // Blocks we serve (one streamed at a time, requests queued).
  struct Serve {
    uint32_t request;
    Hash256 hash;
  };
  std::deque<Serve> serve_queue_;
  struct Sending {
    uint32_t request;
    Hash256 hash;
    store::StorageRoot* root = nullptr;  // nullptr: not found (block-begin found = 0)
    uint64_t size = 0;
    bool begun = false;        // block-begin sent
    BlockSender::Job job = 0;  // read and hashed ahead by svc_->Sender(), or
    int fd = -1;               // (a block of one chunk) read and hashed here
    crypto::Sha256Stream sha;
  };
  // The block being sent, and the next one, opened early so that its reading
  // starts while this one is still going out.
  std::optional<Sending> sending_, next_;
  Sending Open(const Serve& serve);
  void Drop(std::optional<Sending>& sending);
  std::unique_ptr<uint8_t[]> block_frame_;  // inline chunks (allocated once)
  Bytes sent_chunk_;                        // the chunk being encrypted (back to the sender after)
  BlockSender::Result pending_outcome_ = BlockSender::Result::kGood;  // of an inline chunk

  // Blocks we asked for.
  std::map<uint32_t, Hash256> requested_;
  uint32_t next_request_ = 1;
  std::unordered_set<Hash256> peer_lacks_;
  struct Receiving {
    uint32_t request;
    Hash256 hash;
    uint64_t size = 0, got = 0;
    BlockReceiver::Job job = 0;  // its bytes go to svc_->Receiver()
    bool store = true;           // false: we hold it already (checked, not written)
    crypto::Sha256Stream sha;    // hashed here, on arrival
  };
  std::optional<Receiving> receiving_;

  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  int64_t last_seen_ms_ = 0;
  std::string close_reason_;
};

// ---------------------------------------------------------------- Connection

void Connection::StartDial(const std::string& host, const std::string& port) {
  auto self = shared_from_this();
  handshake_timer_.expires_after(std::chrono::milliseconds(opt_.handshake_timeout_ms));
  handshake_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec && !self->closed() && !self->ready()) self->Close("handshake timed out");
  });
  resolver_ = std::make_shared<tcp::resolver>(svc_->io_);
  resolver_->async_resolve(
      host, port, [self](const boost::system::error_code& ec, tcp::resolver::results_type results) {
        if (self->closed()) return;
        if (ec) return self->Close("cannot resolve: " + ec.message(), LogLevel::kInfo);
        asio::async_connect(self->socket_, results,
                            [self](const boost::system::error_code& ec, const tcp::endpoint&) {
                              if (self->closed()) return;
                              if (ec) {
                                return self->Close("cannot connect: " + ec.message(),
                                                   LogLevel::kInfo);
                              }
                              self->StartTls();
                            });
      });
}

void Connection::StartAccepted() {
  auto self = shared_from_this();
  handshake_timer_.expires_after(std::chrono::milliseconds(opt_.handshake_timeout_ms));
  handshake_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec && !self->closed() && !self->ready()) self->Close("handshake timed out");
  });
  StartTls();
}

void Connection::StartTls() {
  phase_ = Phase::kHandshake;
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  auto session = crypto::tls::Session::Create(svc_->tls_.native_handle(), !outbound_);
  if (!session.ok()) return Close(session.error().message);
  session_ = std::move(session).value();
  cipher_in_.resize(kSocketIoBytes);
  HandshakeStep();
}

void Connection::HandshakeStep() {
  auto done = session_->Handshake();
  if (!done.ok()) return Close(done.error().message);
  if (session_->output_size() > 0) {
    // Our handshake messages first; then look again (done, or wait for the peer).
    session_->TakeOutput(&cipher_out_);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(cipher_out_),
                      [self](const boost::system::error_code& ec, size_t) {
                        if (self->closed()) return;
                        if (ec) return self->Close("TLS handshake failed: " + ec.message());
                        self->HandshakeStep();
                      });
    return;
  }
  if (*done) {
    tls_up_ = true;
    return OnTlsUp();
  }
  ReadCipher();
}

void Connection::ReadCipher() {
  auto self = shared_from_this();
  socket_.async_read_some(
      asio::buffer(cipher_in_), [self](const boost::system::error_code& ec, size_t n) {
        if (self->closed()) return;
        if (ec) {
          if (!self->tls_up_) return self->Close("TLS handshake failed: " + ec.message());
          return self->Close(ec == asio::error::eof ? "the peer closed the connection"
                                                    : "read failed: " + ec.message(),
                             LogLevel::kInfo);
        }
        self->session_->Feed(ByteSpan(self->cipher_in_).first(n));
        if (!self->tls_up_) return self->HandshakeStep();
        self->ReadFrames();
      });
}

void Connection::OnTlsUp() {
  auto key = crypto::tls::PeerPublicKey(session_->native_handle());
  if (!key.ok()) return Close(key.error().message);
  peer_key_ = std::move(key).value();
  if (peer_key_->bytes() == svc_->key_.public_key().bytes()) {
    return Close("connected to ourselves", LogLevel::kInfo);
  }
  auto exported =
      crypto::tls::ExportKeyingMaterial(session_->native_handle(), kExporterLabel, kExporterSize);
  if (!exported.ok()) return Close(exported.error().message);
  exporter_ = std::move(exported).value();

  // Offer: one tag per hub, padded with random tags to a power of two (at
  // least kMinOffer) and shuffled, so neither ids nor the count show.
  std::vector<HubState*> hubs;
  for (auto& [id, hub] : svc_->hubs_) {
    if (hubs.size() >= opt_.max_hubs_offered) {
      NB_LOG(kWarn, "sync") << "more than " << opt_.max_hubs_offered
                            << " hubs: the rest are not offered";
      break;
    }
    hubs.push_back(hub.get());
  }
  size_t slots = kMinOffer;
  while (slots < hubs.size()) slots *= 2;
  hubs.resize(slots, nullptr);
  uint64_t seed = 0;
  crypto::RandomFill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&seed), sizeof(seed)));
  std::mt19937_64 rng(seed);
  std::shuffle(hubs.begin(), hubs.end(), rng);
  offer_hubs_ = hubs;
  FrameWriter hello(FrameType::kHello);
  hello.U8(kProtocolVersion).U16(static_cast<uint16_t>(hubs.size()));
  for (HubState* hub : hubs) {
    if (hub == nullptr) {
      hello.Raw(crypto::RandomBytes(kTagSize));
    } else {
      hello.Raw(MembershipTag(hub->tag_key, exporter_, svc_->key_.public_key()));
    }
  }
  Send(std::move(hello).Finish());
  ReadFrames();
  Tick();
}

bool Connection::Fill(uint8_t* dst, size_t size) {
  while (fill_got_ < size) {
    auto got = session_->Read(std::span<uint8_t>(dst + fill_got_, size - fill_got_));
    if (!got.ok()) {
      bool peer_closed = got.error().code == ErrorCode::kCancelled;
      Close(peer_closed ? "the peer closed the connection" : got.error().message,
            peer_closed ? LogLevel::kInfo : LogLevel::kWarn);
      return false;
    }
    if (*got == 0) {
      // Reading may have produced TLS output of its own (a key update's
      // answer): send it along.
      if (session_->output_size() > 0) Pump();
      if (!closed()) ReadCipher();
      return false;
    }
    fill_got_ += *got;
  }
  fill_got_ = 0;
  return true;
}

void Connection::ReadFrames() {
  // A loop, not a chain of callbacks: one socket read may hold many frames.
  while (!closed()) {
    if (!header_done_) {
      if (!Fill(header_, sizeof(header_))) return;
      bytes_in_ += sizeof(header_);
      uint32_t length = ReadU32Be(header_);
      if (length == 0 || length > opt_.max_frame) {
        return Close("frame length " + std::to_string(length) + " out of bounds (at most " +
                     std::to_string(opt_.max_frame) + ")");
      }
      frame_ = length <= kSmallFrameMax ? &small_body_ : &body_;
      frame_->resize(length);
      header_done_ = true;
    }
    if (!Fill(frame_->data(), frame_->size())) return;
    header_done_ = false;
    bytes_in_ += frame_->size();
    last_recv_ = Clock::now();
    last_seen_ms_ = UnixMs();
    uint8_t type = (*frame_)[0];
    Status handled = HandleFrame(type, ByteSpan(*frame_).subspan(1));
    if (closed()) return;
    if (!handled.ok()) {
      return Close(std::string(FrameTypeName(type)) + " frame: " + handled.error().message);
    }
    // Flow control: while the block writer is behind, stop reading (TCP then
    // holds the sender back) until it has caught up (ResumeReading).
    if (svc_->receiver_ && svc_->receiver_->over_limit()) {
      read_paused_ = true;
      return;
    }
  }
}

void Connection::ResumeReading() {
  if (!read_paused_ || closed()) return;
  read_paused_ = false;
  last_recv_ = Clock::now();  // the pause was ours, not the peer's silence
  ReadFrames();
}

Status Connection::HandleFrame(uint8_t type, ByteSpan body) {
  FrameReader r(body);
  auto t = static_cast<FrameType>(type);
  if (t == FrameType::kPing) {
    Send(std::move(FrameWriter(FrameType::kPong)).Finish());
    return Status::Ok();
  }
  if (t == FrameType::kPong) return Status::Ok();
  if (t == FrameType::kClose) {
    ByteSpan reason = r.Rest();
    std::string text(AsChars(reason.first(std::min(reason.size(), kMaxReasonBytes))));
    Close("the peer closed: " + text, LogLevel::kInfo);
    return Status::Ok();
  }
  if (t == FrameType::kHello) return OnHello(r);
  if (t == FrameType::kProof) return OnProof(r);
  if (phase_ != Phase::kReady) {
    return Protocol(std::string("before membership was settled"));
  }
  switch (t) {
    case FrameType::kReconcile:
      return OnReconcile(r, true);
    case FrameType::kReconciled:
      return OnReconcile(r, false);
    case FrameType::kEvents:
      return OnEvents(r);
    case FrameType::kWantEvents:
      return OnWantEvents(r);
    case FrameType::kGetBlock:
      return OnGetBlock(r);
    case FrameType::kBlockBegin:
      return OnBlockBegin(r);
    case FrameType::kBlockData:
      return OnBlockData(r);
    case FrameType::kBlockEnd:
      return OnBlockEnd(r);
    default:
      break;
  }
  return Protocol("unknown frame type " + std::to_string(type));
}

Status Connection::OnHello(FrameReader& r) {
  if (got_hello_) return Protocol("a second hello");
  got_hello_ = true;
  auto version = r.U8();
  auto count = r.U16();
  if (!version || !count) return Protocol("truncated");
  if (*version != kProtocolVersion) {
    return MakeError(ErrorCode::kUnsupported, "protocol version " + std::to_string(*version) +
                                                  " (we speak " + std::to_string(kProtocolVersion) +
                                                  ")");
  }
  if (*count > kMaxHelloTags) return Protocol(std::to_string(*count) + " tags offered");
  if (r.remaining() != size_t{*count} * kTagSize) return Protocol("length does not match its tags");
  // What a holder of each of our hubs would offer in this session.
  std::map<Tag, HubState*> expected;
  for (auto& [id, hub] : svc_->hubs_) {
    expected.emplace(MembershipTag(hub->tag_key, exporter_, *peer_key_), hub.get());
  }
  std::set<HubState*> seen;
  for (uint16_t i = 0; i < *count; ++i) {
    Tag tag;
    auto raw = r.Raw(kTagSize);
    std::copy(raw->begin(), raw->end(), tag.begin());
    auto it = expected.find(tag);
    if (it == expected.end() || !seen.insert(it->second).second) continue;
    // Channels are numbered by the dialer's hello.
    if (outbound_) {
      auto mine = std::find(offer_hubs_.begin(), offer_hubs_.end(), it->second);
      if (mine == offer_hubs_.end()) continue;  // not offered by us (over the limit)
      matched_[static_cast<uint16_t>(mine - offer_hubs_.begin())] = it->second;
    } else {
      if (std::find(offer_hubs_.begin(), offer_hubs_.end(), it->second) == offer_hubs_.end()) {
        continue;
      }
      matched_[i] = it->second;
    }
  }
  FrameWriter proof(FrameType::kProof);
  proof.U16(static_cast<uint16_t>(matched_.size()));
  for (const auto& [ch, hub] : matched_) {
    Bytes message = MembershipMessage(exporter_, hub->hub->keys().public_key(),
                                      svc_->key_.public_key(), *peer_key_);
    proof.U16(ch).Raw(hub->hub->keys().signing_key().Sign(message));
  }
  Send(std::move(proof).Finish());
  return Status::Ok();
}

Status Connection::OnProof(FrameReader& r) {
  if (!got_hello_) return Protocol("before the hello");
  if (got_proof_) return Protocol("a second proof");
  got_proof_ = true;
  auto count = r.U16();
  if (!count) return Protocol("truncated");
  if (r.remaining() != size_t{*count} * (2 + crypto::kSignatureSize)) {
    return Protocol("length does not match its entries");
  }
  for (uint16_t i = 0; i < *count; ++i) {
    uint16_t ch = *r.U16();
    ByteSpan signature = *r.Raw(crypto::kSignatureSize);
    auto it = matched_.find(ch);
    if (it == matched_.end()) return Protocol("proof for a hub we did not recognise");
    HubState* hub = it->second;
    Bytes message = MembershipMessage(exporter_, hub->hub->keys().public_key(), *peer_key_,
                                      svc_->key_.public_key());
    if (!hub->hub->keys().public_key().Verify(message, signature)) {
      return Protocol("membership proof does not verify");
    }
    active_[ch] = hub;
  }
  phase_ = Phase::kReady;
  handshake_timer_.cancel();
  NB_LOG(kInfo, "sync") << "peer " << DeviceIdOf(*peer_key_) << " (" << address_ << ", "
                        << (outbound_ ? "dialed" : "accepted") << ") connected, " << active_.size()
                        << " hub(s) shared";
  svc_->OnReady(this);
  if (closed()) return Status::Ok();
  if (outbound_) {
    for (const auto& [ch, hub] : active_) StartReconcile(ch, hub);
  }
  ScheduleBlocks();
  return Status::Ok();
}

Result<HubState*> Connection::Channel(std::optional<uint16_t> ch) {
  if (!ch) return Protocol("truncated");
  auto it = active_.find(*ch);
  if (it == active_.end()) return Protocol("names a hub not shared in this session");
  return it->second;
}

size_t FrameLimitFor(size_t max_frame) {
  // Room for the frame type and channel; the protocol's minimum otherwise.
  return std::max(negentropy::kMinFrameSizeLimit, max_frame - 64);
}

void Connection::StartReconcile(uint16_t ch, HubState* hub) {
  Run& run = runs_[ch];
  run.reconciler =
      std::make_unique<negentropy::Reconciler>(hub->storage, FrameLimitFor(opt_.max_frame));
  auto first = run.reconciler->Initiate();
  if (!first.ok()) return Close("cannot start reconciliation: " + first.error().message);
  FrameWriter w(FrameType::kReconcile);
  w.U16(ch).Raw(*first);
  Send(std::move(w).Finish());
}

Status Connection::OnReconcile(FrameReader& r, bool from_initiator) {
  auto ch = r.U16();
  NB_ASSIGN_OR_RETURN(HubState * hub, Channel(ch));
  ByteSpan message = r.Rest();
  Run& run = runs_[*ch];
  if (++run.rounds > opt_.max_reconcile_rounds) {
    return Protocol("reconciliation did not end within " +
                    std::to_string(opt_.max_reconcile_rounds) + " rounds");
  }
  if (from_initiator) {
    if (outbound_) return Protocol("the dialer initiates, not the listener");
    negentropy::Reconciler responder(hub->storage, FrameLimitFor(opt_.max_frame));
    auto reply = responder.Respond(message);
    if (!reply.ok()) return Protocol("negentropy: " + reply.error().message);
    FrameWriter w(FrameType::kReconciled);
    w.U16(*ch).Raw(*reply);
    Send(std::move(w).Finish());
    return Status::Ok();
  }
  if (!outbound_ || !run.reconciler || run.done) return Protocol("unexpected reply");
  std::vector<negentropy::Id> have, need;
  auto next = run.reconciler->Reconcile(message, &have, &need);
  if (!next.ok()) return Protocol("negentropy: " + next.error().message);
  if (!have.empty()) {
    std::vector<Hash256> send;
    for (const auto& id : have) send.push_back(HashOf(id));
    QueueEvents(*ch, send);
  }
  // Ask for what we lack, in frames that fit.
  size_t per_frame = (opt_.max_frame - 16) / 32;
  for (size_t i = 0; i < need.size(); i += per_frame) {
    size_t n = std::min(per_frame, need.size() - i);
    FrameWriter w(FrameType::kWantEvents);
    w.U16(*ch).U32(static_cast<uint32_t>(n));
    for (size_t k = 0; k < n; ++k) w.Raw(need[i + k]);
    Send(std::move(w).Finish());
  }
  if (next->has_value()) {
    FrameWriter w(FrameType::kReconcile);
    w.U16(*ch).Raw(**next);
    Send(std::move(w).Finish());
  } else {
    run.done = true;
    NB_LOG(kDebug, "sync") << "hub " << Short(hub->id) << " reconciled with "
                           << DeviceIdOf(*peer_key_) << " in " << run.rounds << " round(s)";
  }
  return Status::Ok();
}

Status Connection::OnWantEvents(FrameReader& r) {
  auto ch = r.U16();
  NB_ASSIGN_OR_RETURN(HubState * hub, Channel(ch));
  (void)hub;
  auto count = r.U32();
  if (!count || r.remaining() != size_t{*count} * 32) return Protocol("length does not match");
  if (event_queue_.size() + *count > opt_.max_wanted_events) {
    return Protocol("more than " + std::to_string(opt_.max_wanted_events) +
                    " events asked for at once");
  }
  for (uint32_t i = 0; i < *count; ++i) event_queue_.emplace_back(*ch, *r.Hash());
  Pump();
  return Status::Ok();
}

Status Connection::OnEvents(FrameReader& r) {
  auto ch = r.U16();
  NB_ASSIGN_OR_RETURN(HubState * hub, Channel(ch));
  auto count = r.U16();
  if (!count) return Protocol("truncated");
  // Every event of the frame is checked before any is published. The
  // signatures, the costly part, are checked on every core.
  struct Incoming {
    Hash256 hash;
    ByteSpan file;
  };
  std::vector<Incoming> incoming;
  for (uint16_t i = 0; i < *count; ++i) {
    auto hash = r.Hash();
    auto length = r.U32();
    if (!hash || !length) return Protocol("truncated");
    auto file = r.Raw(*length);
    if (!file) return Protocol("event longer than the frame");
    incoming.push_back({*hash, *file});
  }
  if (!r.at_end()) return Protocol("bytes after the last event");
  const crypto::PublicKey& key = hub->hub->keys().public_key();
  std::vector<std::optional<Result<log::ValidEvent>>> checked(incoming.size());
  auto check = [&](size_t i) {
    if (hub->storage.Contains(0, IdOf(incoming[i].hash))) return;  // read-only here
    checked[i].emplace(log::ValidateEventFile(key, incoming[i].hash, incoming[i].file));
  };
  if (incoming.size() >= 32) {
    ParallelFor(incoming.size(), 0, check);
  } else {
    for (size_t i = 0; i < incoming.size(); ++i) check(i);
  }
  std::vector<log::ValidEvent> fresh;
  for (size_t i = 0; i < incoming.size(); ++i) {
    if (!checked[i]) continue;  // already known
    if (!checked[i]->ok()) {
      return Protocol("refused event " + incoming[i].hash.Hex() + ": " +
                      checked[i]->error().message);
    }
    if (svc_->store_->HasEvent(hub->id, incoming[i].hash)) continue;
    fresh.push_back(std::move(*checked[i]).value());
  }
  peer_lacks_.clear();  // it has learned something: it may have blocks now
  if (fresh.empty()) return Status::Ok();
  // Publish (canonical bytes: the hash is over the canonical envelope).
  if (fresh.size() > kBatchPublishAbove) {
    store::BatchPublisher batch(&svc_->store_->primary());
    for (const auto& event : fresh) {
      std::string bytes = log::SerializeEventFile(event.envelope, event.signature);
      Status staged = batch.StageEvent(hub->id, event.hash, AsBytes(bytes));
      if (!staged.ok()) {
        Close("cannot publish events: " + staged.error().message, LogLevel::kError);
        return Status::Ok();
      }
    }
    auto committed = batch.Commit();
    if (!committed.ok()) {
      Close("cannot publish events: " + committed.error().message, LogLevel::kError);
      return Status::Ok();
    }
  } else {
    for (const auto& event : fresh) {
      std::string bytes = log::SerializeEventFile(event.envelope, event.signature);
      auto imported = hub->hub->log().Import(event.hash, AsBytes(bytes));
      if (!imported.ok()) {
        Close("cannot publish an event: " + imported.error().message, LogLevel::kError);
        return Status::Ok();
      }
    }
  }
  std::vector<Hash256> learned = svc_->Learn(*hub, fresh);
  for (size_t i = 0; i < fresh.size(); ++i) {
    hub->recent.Put(fresh[i].hash, log::SerializeEventFile(fresh[i].envelope, fresh[i].signature));
  }
  svc_->AfterEventsReceived(*hub, learned, this);
  return Status::Ok();
}

Status Connection::OnGetBlock(FrameReader& r) {
  auto ch = r.U16();
  NB_ASSIGN_OR_RETURN(HubState * hub, Channel(ch));
  auto request = r.U32();
  auto hash = r.Hash();
  if (!request || !hash || !r.at_end()) return Protocol("malformed");
  if (serve_queue_.size() + (sending_ ? 1 : 0) + (next_ ? 1 : 0) >= opt_.max_blocks_in_flight) {
    return Protocol("more than " + std::to_string(opt_.max_blocks_in_flight) +
                    " block requests at once");
  }
  // Only blocks this hub's events name are served: a member of one hub learns
  // nothing of the blocks of another, not even whether we hold them.
  if (!hub->referenced.count(*hash) || !svc_->store_->HasBlock(*hash)) {
    FrameWriter w(FrameType::kBlockBegin);
    w.U32(*request).U8(0).U64(0);
    Send(std::move(w).Finish());
    return Status::Ok();
  }
  serve_queue_.push_back(Serve{*request, *hash});
  Pump();
  return Status::Ok();
}

Status Connection::OnBlockBegin(FrameReader& r) {
  auto request = r.U32();
  auto found = r.U8();
  auto size = r.U64();
  if (!request || !found || !size || !r.at_end()) return Protocol("malformed");
  auto it = requested_.find(*request);
  if (it == requested_.end()) return Protocol("answers no request of ours");
  if (receiving_) return Protocol("a block begins before the previous one ended");
  Hash256 hash = it->second;
  if (*found == 0) {
    requested_.erase(it);
    svc_->blocks_inflight_.erase(hash);
    peer_lacks_.insert(hash);
    svc_->ScheduleAllBlocks();  // another peer may have it
    return Status::Ok();
  }
  if (*size > store::kMaxBlockSize) return Protocol("block of " + std::to_string(*size) + " bytes");
  receiving_.emplace();
  receiving_->request = *request;
  receiving_->hash = hash;
  receiving_->size = *size;
  receiving_->store = !svc_->store_->HasBlock(hash);
  receiving_->job = svc_->Receiver().Begin(hash, *size, receiving_->store);
  return Status::Ok();
}

Status Connection::OnBlockData(FrameReader& r) {
  auto request = r.U32();
  if (!request) return Protocol("truncated");
  if (!receiving_ || receiving_->request != *request) return Protocol("data for no block");
  ByteSpan data = r.Rest();
  if (data.size() > receiving_->size - receiving_->got) {
    return Protocol("block " + receiving_->hash.Hex() + " longer than announced");
  }
  receiving_->got += data.size();
  receiving_->sha.Update(data);
  // The frame's buffer itself goes to the writer thread (hashed and written
  // there); this connection reads the next frame into a recycled one.
  if (frame_ != &body_) {  // a small frame: copied (cheap), its buffer stays
    svc_->Receiver().Data(receiving_->job, Bytes(data.begin(), data.end()), 0);
    return Status::Ok();
  }
  size_t offset = static_cast<size_t>(data.data() - body_.data());
  svc_->Receiver().Data(receiving_->job, std::move(body_), offset);
  body_ = svc_->Receiver().TakeBuffer();
  return Status::Ok();
}

Status Connection::OnBlockEnd(FrameReader& r) {
  auto request = r.U32();
  auto ok = r.U8();
  if (!request || !ok || !r.at_end()) return Protocol("malformed");
  if (!receiving_ || receiving_->request != *request) return Protocol("end of no block");
  Receiving done = std::move(*receiving_);
  receiving_.reset();
  requested_.erase(done.request);
  if (*ok == 0) {  // the sender found its own copy corrupt: nothing to keep
    svc_->Receiver().Abort(done.job);
    svc_->blocks_inflight_.erase(done.hash);
    peer_lacks_.insert(done.hash);
    svc_->ScheduleAllBlocks();  // another peer may have a good copy
    return Status::Ok();
  }
  if (done.got != done.size) {
    svc_->Receiver().Abort(done.job);
    svc_->blocks_inflight_.erase(done.hash);
    return Protocol("block " + done.hash.Hex() + " shorter than announced");
  }
  if (done.sha.Finish() != done.hash) {
    svc_->Receiver().Abort(done.job);  // its temp file is gone when this returns
    svc_->blocks_inflight_.erase(done.hash);
    return Protocol("block " + done.hash.Hex() + " does not match its hash");
  }
  // Written and published with its batch on the receiver's threads
  // (OnBlockChecked, OnBlocksPublished follow). Until then the block stays
  // in flight, so nobody asks for it again.
  svc_->Receiver().End(done.job);
  svc_->verifying_[done.job] = weak_from_this();
  if (done.store) {
    // Out of the wanted sets now: scheduling scans them from the start, and
    // thousands of blocks there waiting for their batch would make each pick
    // cost thousands.
    for (auto& [id, hub] : svc_->hubs_) hub->wanted.erase(done.hash);
  } else {
    svc_->blocks_inflight_.erase(done.hash);
  }
  ScheduleBlocks();
  return Status::Ok();
}

void Connection::ScheduleBlocks() {
  if (phase_ != Phase::kReady) return;
  while (requested_.size() < opt_.max_blocks_in_flight) {
    std::optional<std::pair<uint16_t, Hash256>> pick;
    for (const auto& [ch, hub] : active_) {
      for (const auto& hash : hub->wanted) {
        if (svc_->blocks_inflight_.count(hash) || peer_lacks_.count(hash)) continue;
        pick.emplace(ch, hash);
        break;
      }
      if (pick) break;
    }
    if (!pick) return;
    uint32_t request = next_request_++;
    requested_[request] = pick->second;
    svc_->blocks_inflight_.insert(pick->second);
    FrameWriter w(FrameType::kGetBlock);
    w.U16(pick->first).U32(request).Hash(pick->second);
    Send(std::move(w).Finish());
  }
}

void Connection::Send(Bytes frame) {
  if (closed()) return;
  out_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  if (out_bytes_ > opt_.max_queued_bytes) {
    return Close("more than " + std::to_string(opt_.max_queued_bytes) +
                 " bytes queued: the peer does not read");
  }
  Pump();
}

bool Connection::ProduceEventFrame(Bytes* out) {
  while (!event_queue_.empty()) {
    uint16_t ch = event_queue_.front().first;
    auto hub_it = active_.find(ch);
    if (hub_it == active_.end()) {
      event_queue_.pop_front();
      continue;
    }
    HubState* hub = hub_it->second;
    FrameWriter w(FrameType::kEvents);
    w.U16(ch).U16(0);
    uint16_t count = 0;
    size_t budget = opt_.max_frame / 2;
    while (!event_queue_.empty() && event_queue_.front().first == ch && count < 65535) {
      Hash256 hash = event_queue_.front().second;
      std::string bytes;
      if (const std::string* recent = hub->recent.Find(hash)) {
        bytes = *recent;
      } else {
        auto event = hub->hub->log().ReadEvent(hash);
        if (!event.ok()) {  // gone, or corrupt here (now quarantined): not ours to send
          event_queue_.pop_front();
          continue;
        }
        bytes = log::SerializeEventFile(event->envelope, event->signature);
      }
      if (bytes.size() + 64 > opt_.max_frame - 16) {
        NB_LOG(kWarn, "sync") << "event " << hash.Hex() << " of " << bytes.size()
                              << " bytes exceeds a frame; not sent";
        event_queue_.pop_front();
        continue;
      }
      if (count > 0 && w.size() + bytes.size() + 36 > budget) break;
      w.Hash(hash).U32(static_cast<uint32_t>(bytes.size())).Raw(AsBytes(bytes));
      ++count;
      event_queue_.pop_front();
    }
    if (count == 0) continue;
    Bytes frame = std::move(w).Finish();
    frame[kFrameHeaderSize + 3] = static_cast<uint8_t>(count >> 8);
    frame[kFrameHeaderSize + 4] = static_cast<uint8_t>(count);
    *out = std::move(frame);
    return true;
  }
  return false;
}

Connection::Sending Connection::Open(const Serve& serve) {
  Sending s;
  s.request = serve.request;
  s.hash = serve.hash;
  for (auto& root : svc_->store_->roots()) {
    int fd = ::open(root.block_path(serve.hash).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) > store::kMaxBlockSize) {
      ::close(fd);
      continue;
    }
    s.root = &root;
    s.size = static_cast<uint64_t>(st.st_size);
    if (s.size <= opt_.block_chunk) {
      s.fd = fd;  // one chunk: read inline, no hand-off to the reader
    } else {
      std::weak_ptr<Connection> weak = weak_from_this();
      s.job = svc_->Sender().Start(fd, s.size, serve.hash, opt_.block_chunk, [weak] {
        if (auto self = weak.lock()) self->Pump();
      });
    }
    break;
  }
  return s;
}

void Connection::Drop(std::optional<Sending>& sending) {
  if (!sending) return;
  if (sending->job != 0) svc_->Sender().Cancel(sending->job);
  if (sending->fd >= 0) ::close(sending->fd);
  sending.reset();
}

bool Connection::ProduceBlockFrame(Bytes* out, ByteSpan* data) {
  if (!sending_) {
    if (next_) {
      sending_ = std::move(next_);
      next_.reset();
    } else if (!serve_queue_.empty()) {
      sending_ = Open(serve_queue_.front());
      serve_queue_.pop_front();
    } else {
      return false;
    }
  }
  if (!next_ && !serve_queue_.empty()) {
    next_ = Open(serve_queue_.front());
    serve_queue_.pop_front();
  }
  Sending& s = *sending_;
  if (!s.begun) {
    s.begun = true;
    FrameWriter w(FrameType::kBlockBegin);
    w.U32(s.request).U8(s.root != nullptr ? 1 : 0).U64(s.size);
    *out = std::move(w).Finish();
    if (s.root == nullptr) sending_.reset();
    return true;
  }
  constexpr size_t head = kFrameHeaderSize + 1 + 4;  // length, type, request
  auto finish_header = [&](std::span<uint8_t> frame) {
    uint32_t length = static_cast<uint32_t>(frame.size() - kFrameHeaderSize);
    for (int i = 0; i < 4; ++i) frame[i] = static_cast<uint8_t>(length >> (24 - 8 * i));
    frame[kFrameHeaderSize] = static_cast<uint8_t>(FrameType::kBlockData);
    for (int i = 0; i < 4; ++i) {
      frame[kFrameHeaderSize + 1 + i] = static_cast<uint8_t>(s.request >> (24 - 8 * i));
    }
    *data = frame;
  };
  std::optional<BlockSender::Result> outcome;
  if (s.job != 0) {
    BlockSender& sender = svc_->Sender();
    if (auto chunk = sender.Next(s.job)) {
      // The reader left headroom for the header: the bytes are not copied.
      static_assert(head <= BlockSender::kHeadroom);
      sent_chunk_ = std::move(*chunk);
      finish_header(std::span<uint8_t>(sent_chunk_.data() + BlockSender::kHeadroom - head,
                                       sent_chunk_.size() - BlockSender::kHeadroom + head));
      return true;
    }
    outcome = sender.Outcome(s.job);
    if (!outcome) return false;  // the reader is behind; it wakes us (Pump)
  } else if (s.fd >= 0) {
    // One chunk, read and hashed here, in a buffer kept from block to block.
    size_t n = static_cast<size_t>(s.size);
    if (!block_frame_) {
      block_frame_ = std::make_unique_for_overwrite<uint8_t[]>(head + opt_.block_chunk);
    }
    std::span<uint8_t> frame(block_frame_.get(), head + n);
    size_t got = 0;
    while (got < n) {
      ssize_t k = ::read(s.fd, frame.data() + head + got, n - got);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      got += static_cast<size_t>(k);
    }
    ::close(s.fd);
    s.fd = -1;
    if (got == n) {
      s.sha.Update(ByteSpan(frame).subspan(head));
      outcome =
          s.sha.Finish() == s.hash ? BlockSender::Result::kGood : BlockSender::Result::kCorrupt;
      if (n > 0) {
        finish_header(frame);
        s.fd = -2;  // sent; the end follows
        pending_outcome_ = *outcome;
        return true;
      }
    } else {
      outcome = BlockSender::Result::kUnreadable;
    }
  } else {
    outcome = pending_outcome_;  // the chunk went out in the previous frame
  }
  if (*outcome == BlockSender::Result::kUnreadable) {
    NB_LOG(kWarn, "sync") << "block " << s.hash.Hex() << " could not be read to its end";
  } else if (*outcome == BlockSender::Result::kCorrupt) {
    Error quarantined = s.root->QuarantineCorruptBlock(s.hash);
    svc_->store_->ReportIncident(quarantined.message);
    NB_LOG(kWarn, "sync") << quarantined.message;
  }
  FrameWriter end(FrameType::kBlockEnd);
  end.U32(s.request).U8(*outcome == BlockSender::Result::kGood ? 1 : 0);
  sending_.reset();
  *out = std::move(end).Finish();
  return true;
}

void Connection::Pump() {
  if (write_pending_ || closed() || !tls_up_) return;
  // Encrypt frames until one socket write's worth is ready: control frames
  // first (coalesced: small frames, few records), then events, then block data.
  while (session_->output_size() < kSocketIoBytes) {
    writing_.clear();
    while (!out_.empty() && writing_.size() < (size_t{256} << 10)) {
      Bytes& f = out_.front();
      out_bytes_ -= f.size();
      writing_.insert(writing_.end(), f.begin(), f.end());
      out_.pop_front();
    }
    ByteSpan frame;
    if (writing_.empty() && phase_ == Phase::kReady && !ProduceEventFrame(&writing_)) {
      ProduceBlockFrame(&writing_, &frame);  // block data: in `frame`; others: in writing_
    }
    if (!writing_.empty()) frame = writing_;
    if (frame.empty()) break;
    Status encrypted = session_->Write(frame);
    if (!sent_chunk_.empty()) svc_->Sender().Recycle(std::move(sent_chunk_));
    sent_chunk_.clear();
    if (!encrypted.ok()) return Close(encrypted.error().message);
    plain_out_ += frame.size();
    if (closed()) return;
  }
  if (session_->output_size() == 0) return;
  session_->TakeOutput(&cipher_out_);
  write_pending_ = true;
  write_started_ = Clock::now();
  auto self = shared_from_this();
  asio::async_write(socket_, asio::buffer(cipher_out_),
                    [self](const boost::system::error_code& ec, size_t) {
                      self->write_pending_ = false;
                      if (self->closed()) return;
                      if (ec) return self->Close("write failed: " + ec.message(), LogLevel::kInfo);
                      self->bytes_out_ += std::exchange(self->plain_out_, 0);
                      self->last_send_ = Clock::now();
                      self->Pump();
                    });
}

void Connection::Tick() {
  if (closed()) return;
  auto now = Clock::now();
  auto idle = std::chrono::milliseconds(opt_.idle_timeout_ms);
  if (now - last_recv_ > idle) {
    return Close("nothing received for " + std::to_string(opt_.idle_timeout_ms) + " ms");
  }
  if (write_pending_ && now - write_started_ > idle) {
    return Close("the peer has not read for " + std::to_string(opt_.idle_timeout_ms) + " ms");
  }
  if (phase_ == Phase::kReady && !write_pending_ && now - last_send_ > idle / 3) {
    Send(std::move(FrameWriter(FrameType::kPing)).Finish());
  }
  tick_timer_.expires_after(std::max(idle / 6, std::chrono::milliseconds(20)));
  auto self = shared_from_this();
  tick_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec) self->Tick();
  });
}

void Connection::Close(const std::string& reason, LogLevel level) {
  if (closed()) return;
  bool was_ready = phase_ == Phase::kReady;
  phase_ = Phase::kClosed;
  close_reason_ = reason;
  std::string who = peer_key_ ? DeviceIdOf(*peer_key_) + " (" + address_ + ")" : address_;
  LogLine(level, "sync", "peer " + who + " disconnected: " + reason);
  boost::system::error_code ignored;
  handshake_timer_.cancel();
  tick_timer_.cancel();
  if (resolver_) resolver_->cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // An unfinished block's temp file is removed (by the writer thread).
  if (receiving_) svc_->Receiver().Abort(receiving_->job);
  receiving_.reset();
  Drop(sending_);
  Drop(next_);
  for (const auto& [request, hash] : requested_) svc_->blocks_inflight_.erase(hash);
  requested_.clear();
  out_.clear();
  event_queue_.clear();
  svc_->OnClosed(shared_from_this(), reason, was_ready);
}

PeerStatus Connection::Describe() const {
  PeerStatus s;
  if (peer_key_) s.device_id = DeviceIdOf(*peer_key_);
  s.address = address_;
  s.direction = outbound_ ? PeerStatus::Direction::kOutbound : PeerStatus::Direction::kInbound;
  for (const auto& [ch, hub] : active_) s.hubs.push_back(hub->id);
  s.bytes_in = bytes_in_;
  s.bytes_out = bytes_out_;
  s.last_seen_unix_ms = last_seen_ms_;
  s.blocks_in_flight = requested_.size();
  if (receiving_) s.bytes_in_flight = receiving_->size - receiving_->got;
  for (const auto& [ch, hub] : active_) {
    for (const auto& hash : hub->wanted) {
      if (!peer_lacks_.count(hash)) ++s.blocks_remaining;
    }
  }
  bool reconciling = std::any_of(runs_.begin(), runs_.end(), [](const auto& run) {
    // Only the dialer runs a reconciler; the
    // listener merely answers.
    return run.second.reconciler && !run.second.done;
  });
  switch (phase_) {
    case Phase::kConnecting:
      s.state = "dialing";
      break;
    case Phase::kHandshake:
      s.state = "handshake";
      break;
    case Phase::kClosed:
      s.state = "closed";
      break;
    case Phase::kReady:
      if (reconciling) {
        s.state = "reconciling";
      } else if (!requested_.empty() || sending_ || next_ || !serve_queue_.empty() ||
                 !event_queue_.empty() || s.blocks_remaining > 0) {
        s.state = "syncing";
      } else {
        s.state = "idle";
      }
      break;
  }
  s.last_error = close_reason_;
  return s;
}

// ---------------------------------------------------------------- Impl

SyncService::Impl::Impl(asio::io_context& io, crypto::PrivateKey key, store::Store* store,
                        SyncServiceOptions options)
    : io_(io), key_(std::move(key)), store_(store), options_(options) {
  tls_ready_ = crypto::tls::ConfigureContext(tls_.native_handle(), key_);
  if (!tls_ready_.ok()) {
    NB_LOG(kError, "sync") << tls_ready_.error().message;
  }
  device_id_ = DeviceIdOf(key_.public_key());
  options_.max_frame = std::max(options_.max_frame, negentropy::kMinFrameSizeLimit + 128);
  options_.block_chunk = std::clamp<size_t>(options_.block_chunk, 1024, options_.max_frame - 64);
  options_.max_blocks_in_flight = std::max<size_t>(options_.max_blocks_in_flight, 1);
}

EventRefs SyncService::Impl::RefsOf(HubState& hub, const log::ValidEvent& event) {
  EventRefs refs{event.envelope.block_refs, false};
  auto chunks = ManifestChunks(*store_, *store_, hub.hub->keys().symmetric_key(), event.hash,
                               event.envelope.block_refs, event.envelope.ciphertext);
  if (chunks) {
    refs.refs.insert(refs.refs.end(), chunks->begin(), chunks->end());
    refs.expanded = true;
  }
  return refs;
}

void SyncService::Impl::Register(HubState& hub, const Hash256& event, const EventRefs& refs) {
  hub.wanted.erase(event);  // a reference that turned out to be an event
  for (const auto& ref : refs.refs) {
    hub.referenced.insert(ref);
    if (hub.storage.Contains(0, IdOf(ref)) || store_->HasBlock(ref)) continue;
    hub.wanted.insert(ref);
    if (!refs.expanded) hub.awaiting[ref].push_back(event);
  }
}

void SyncService::Impl::AddHub(hub::Hub* hub) {
  if (stopped_ || hubs_.count(hub->id())) return;
  auto state = std::make_unique<HubState>();
  state->hub = hub;
  state->id = hub->id();
  state->tag_key = MembershipTagKey(hub->keys().symmetric_key());
  state->refs = EventRefsCache::Load(store_->primary().state_dir() / "sync", hub->id());
  auto listed = hub->log().ListEventHashes();
  if (!listed.ok()) {
    NB_LOG(kError, "sync") << "hub " << Short(hub->id()) << ": " << listed.error().message;
  }
  std::vector<Hash256> events = listed.ok() ? *listed : std::vector<Hash256>{};
  std::vector<std::pair<Hash256, EventRefs>> known;
  for (const auto& hash : events) {
    const EventRefs* cached = state->refs.Find(hash);
    if (cached != nullptr && cached->expanded) {
      known.emplace_back(hash, *cached);
      continue;
    }
    auto event = hub->log().ReadEvent(hash);  // validated; a bad file is quarantined
    if (!event.ok()) continue;
    EventRefs refs = RefsOf(*state, *event);
    state->refs.Put(hash, refs);
    known.emplace_back(hash, std::move(refs));
  }
  for (const auto& [hash, refs] : known) (void)state->storage.Insert(0, IdOf(hash));
  state->storage.Seal();
  for (const auto& [hash, refs] : known) Register(*state, hash, refs);
  (void)state->refs.Save();  // a cache: losing it costs time only
  NB_LOG(kInfo, "sync") << "serving hub " << Short(hub->id()) << ": " << known.size() << " events, "
                        << state->wanted.size() << " referenced blocks missing";
  hubs_.emplace(hub->id(), std::move(state));
  // Membership is settled once per session: offer the new hub by reconnecting.
  std::vector<std::shared_ptr<Connection>> open(conns_.begin(), conns_.end());
  for (auto& conn : open) conn->Close("hub set changed; reconnecting", LogLevel::kInfo);
}

void SyncService::Impl::RemoveHub(const std::string& hub_id) {
  auto it = hubs_.find(hub_id);
  if (it == hubs_.end()) return;
  (void)it->second->refs.Save();
  it->second->hub = nullptr;
  it->second->wanted.clear();
  it->second->awaiting.clear();
  retired_hubs_.push_back(std::move(it->second));
  hubs_.erase(it);
  NB_LOG(kInfo, "sync") << "no longer serving hub " << Short(hub_id);
  std::vector<std::shared_ptr<Connection>> open(conns_.begin(), conns_.end());
  for (auto& conn : open) conn->Close("hub set changed; reconnecting", LogLevel::kInfo);
}

std::vector<Hash256> SyncService::Impl::Learn(HubState& hub,
                                              const std::vector<log::ValidEvent>& events) {
  std::vector<Hash256> learned;
  for (const auto& event : events) {
    if (hub.storage.Contains(0, IdOf(event.hash))) continue;
    (void)hub.storage.Insert(0, IdOf(event.hash));
    EventRefs refs = RefsOf(hub, event);
    hub.refs.Put(event.hash, refs);
    Register(hub, event.hash, refs);
    learned.push_back(event.hash);
  }
  return learned;
}

void SyncService::Impl::PushEvents(HubState& hub, const std::vector<Hash256>& events,
                                   Connection* except) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<Connection>> open(conns_.begin(), conns_.end());
  for (auto& conn : open) {
    if (conn.get() == except || !conn->ready()) continue;
    if (auto ch = conn->ChannelOf(&hub)) conn->QueueEvents(*ch, events);
  }
}

void SyncService::Impl::ScheduleAllBlocks() {
  std::vector<std::shared_ptr<Connection>> open(conns_.begin(), conns_.end());
  for (auto& conn : open) conn->ScheduleBlocks();
}

void SyncService::Impl::AfterEventsReceived(HubState& hub, const std::vector<Hash256>& events,
                                            Connection* from) {
  if (events.empty()) return;
  NB_LOG(kDebug, "sync") << events.size() << " event(s) of hub " << Short(hub.id) << " received";
  PushEvents(hub, events, from);  // peers that only meet through us
  if (on_events_ && *on_events_) (*on_events_)(hub.id, events);
  ScheduleAllBlocks();
}

BlockReceiver& SyncService::Impl::Receiver() {
  if (!receiver_) {
    std::weak_ptr<Impl> weak = shared_from_this();
    BlockReceiver::Callbacks callbacks;
    callbacks.checked = [weak](BlockReceiver::Job job, const Hash256& hash,
                               const std::optional<Error>& error) {
      if (auto self = weak.lock()) self->OnBlockChecked(job, hash, error);
    };
    callbacks.published = [weak](const std::vector<Hash256>& hashes) {
      if (auto self = weak.lock()) self->OnBlocksPublished(hashes);
    };
    callbacks.publish_failed = [weak](const std::vector<Hash256>& hashes, const Error& error) {
      if (auto self = weak.lock()) self->OnPublishFailed(hashes, error);
    };
    callbacks.drained = [weak] {
      if (auto self = weak.lock()) self->ResumeReading();
    };
    receiver_ = std::make_unique<BlockReceiver>(io_, &store_->primary(), std::move(callbacks));
  }
  return *receiver_;
}

void SyncService::Impl::OnBlockChecked(BlockReceiver::Job job, const Hash256& hash,
                                       const std::optional<Error>& problem) {
  std::shared_ptr<Connection> from;
  if (auto it = verifying_.find(job); it != verifying_.end()) {
    from = it->second.lock();
    verifying_.erase(it);
  }
  if (!problem) return;  // good: it stays in flight until its batch is published
  const Error& error = *problem;
  blocks_inflight_.erase(hash);
  if (stopped_) return;
  for (auto& [id, hub] : hubs_) {
    if (hub->referenced.count(hash) && !store_->HasBlock(hash)) hub->wanted.insert(hash);
  }
  // Our disk failed, not the peer: as before the writer thread, the
  // connection ends (it redials; the block is asked for again).
  if (from && !from->closed())
    from->Close("cannot write block: " + error.message, LogLevel::kError);
  ScheduleAllBlocks();
}

void SyncService::Impl::OnBlocksPublished(const std::vector<Hash256>& hashes) {
  if (stopped_) return;
  for (const auto& hash : hashes) AfterBlockPublished(hash);
}

void SyncService::Impl::OnPublishFailed(const std::vector<Hash256>& hashes, const Error& error) {
  NB_LOG(kError, "sync") << "cannot publish " << hashes.size()
                         << " received block(s): " << error.message;
  for (const auto& hash : hashes) {
    blocks_inflight_.erase(hash);
    for (auto& [id, hub] : hubs_) {
      if (hub->referenced.count(hash) && !store_->HasBlock(hash)) hub->wanted.insert(hash);
    }
  }
  if (!stopped_) ScheduleAllBlocks();
}

void SyncService::Impl::ResumeReading() {
  if (stopped_) return;
  std::vector<std::shared_ptr<Connection>> open(conns_.begin(), conns_.end());
  for (auto& conn : open) conn->ResumeReading();
}

void SyncService::Impl::AfterBlockPublished(const Hash256& block) {
  blocks_inflight_.erase(block);
  for (auto& [id, hub] : hubs_) {
    hub->wanted.erase(block);
    auto waiting = hub->awaiting.find(block);
    if (waiting == hub->awaiting.end()) continue;
    std::vector<Hash256> events = std::move(waiting->second);
    hub->awaiting.erase(waiting);
    for (const auto& event_hash : events) {
      EventRefs* refs = hub->refs.FindMutable(event_hash);
      if (refs == nullptr || refs->expanded) continue;
      auto event = hub->hub->log().ReadEvent(event_hash);
      if (!event.ok()) continue;
      EventRefs fresh = RefsOf(*hub, *event);
      if (!fresh.expanded) {
        // Still waiting for its manifest (another missing ref came first).
        for (const auto& ref : fresh.refs) {
          if (hub->wanted.count(ref)) hub->awaiting[ref].push_back(event_hash);
        }
        continue;
      }
      *refs = fresh;
      hub->refs.Touch();
      Register(*hub, event_hash, fresh);
    }
  }
  if (on_block_ && *on_block_) (*on_block_)(block);
  ScheduleAllBlocks();
}

void SyncService::Impl::OnLocalEvents(const std::string& hub_id,
                                      const std::vector<Hash256>& events) {
  auto it = hubs_.find(hub_id);
  if (it == hubs_.end() || stopped_) return;
  HubState& hub = *it->second;
  std::vector<log::ValidEvent> valid;
  for (const auto& hash : events) {
    if (hub.storage.Contains(0, IdOf(hash))) continue;
    auto event = hub.hub->log().ReadEvent(hash);
    if (event.ok()) valid.push_back(std::move(event).value());
  }
  OnLocalValidEvents(hub_id, valid);
}

void SyncService::Impl::OnLocalValidEvents(const std::string& hub_id,
                                           const std::vector<log::ValidEvent>& events) {
  auto it = hubs_.find(hub_id);
  if (it == hubs_.end() || stopped_) return;
  HubState& hub = *it->second;
  std::vector<Hash256> learned = Learn(hub, events);
  if (learned.empty()) return;
  for (const auto& event : events) {
    hub.recent.Put(event.hash, log::SerializeEventFile(event.envelope, event.signature));
  }
  PushEvents(hub, learned, nullptr);
  ScheduleAllBlocks();
}

void SyncService::Impl::OnReady(Connection* conn) {
  // One connection per peer: of two (both dialed each other), both sides
  // keep the one dialed by the smaller instance key.
  const Bytes& peer = conn->peer_key()->bytes();
  const Bytes& mine = key_.public_key().bytes();
  auto dialer_of = [&](const Connection* c) -> const Bytes& { return c->outbound() ? mine : peer; };
  for (const auto& other : conns_) {
    if (other.get() == conn || !other->ready() || other->peer_key()->bytes() != peer) continue;
    const Bytes& a = dialer_of(other.get());
    const Bytes& b = dialer_of(conn);
    bool keep_other = a < b || (a == b && other->started() < conn->started());
    (keep_other ? conn : other.get())->Close("duplicate connection", LogLevel::kDebug);
    break;
  }
  if (!conn->dial_address().empty()) {
    auto dial = dials_.find(conn->dial_address());
    if (dial != dials_.end()) {
      dial->second.peer_key = peer;
      dial->second.backoff_ms = options_.redial_initial_ms;
      dial->second.last_error.clear();
    }
  }
}

void SyncService::Impl::OnClosed(const std::shared_ptr<Connection>& conn, const std::string& reason,
                                 bool was_ready) {
  conns_.erase(conn);
  if (stopped_) return;
  if (!conn->dial_address().empty()) {
    auto dial = dials_.find(conn->dial_address());
    if (dial != dials_.end()) {
      dial->second.last_error = reason;
      int delay = dial->second.backoff_ms;
      if (!was_ready) {
        dial->second.backoff_ms = std::min(dial->second.backoff_ms * 2, options_.redial_max_ms);
      }
      ScheduleDial(dial->first, delay);
    }
  }
  // Blocks it had in flight may come from another peer.
  asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock(); self && !self->stopped_) self->ScheduleAllBlocks();
  });
}

Status SyncService::Impl::Listen(const std::string& address) {
  if (!tls_ready_.ok()) return tls_ready_;
  NB_ASSIGN_OR_RETURN(HostPort parsed, ParseHostPort(address, PortRule::kListen));
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(parsed.host, ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "not an IP address: " + parsed.host);
  tcp::endpoint endpoint(ip, parsed.port);
  auto acceptor = std::make_unique<tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return MakeError(ErrorCode::kIo, "cannot listen on " + address + ": " + ec.message());
  bound_port_ = acceptor->local_endpoint(ec).port();
  acceptor_ = std::move(acceptor);
  NB_LOG(kInfo, "sync") << "listening on " << HostPort{parsed.host, bound_port_}.ToString()
                        << " as device " << device_id_;
  Accept();
  return Status::Ok();
}

void SyncService::Impl::Accept() {
  if (!acceptor_ || stopped_) return;
  acceptor_->async_accept(
      [weak = weak_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        auto self = weak.lock();
        if (!self || self->stopped_ || !self->acceptor_) return;
        if (!ec) {
          size_t inbound = std::count_if(self->conns_.begin(), self->conns_.end(),
                                         [](const auto& c) { return !c->outbound(); });
          boost::system::error_code peer_ec;
          auto remote = socket.remote_endpoint(peer_ec);
          std::string address =
              peer_ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
          if (inbound >= self->options_.max_inbound) {
            NB_LOG(kWarn, "sync") << "refused " << address << ": " << inbound
                                  << " inbound connections already";
          } else {
            auto conn = std::make_shared<Connection>(self.get(), std::move(socket), false, address);
            self->conns_.insert(conn);
            conn->StartAccepted();
          }
        }
        self->Accept();
      });
}

void SyncService::Impl::AddPeer(const std::string& address) {
  if (stopped_ || dials_.count(address)) return;
  Impl::DialEntry& dial = dials_[address];
  dial.address = address;
  dial.backoff_ms = options_.redial_initial_ms;
  dial.timer = std::make_unique<asio::steady_timer>(io_);
  ScheduleDial(address, 0);
}

void SyncService::Impl::RemovePeer(const std::string& address) {
  auto it = dials_.find(address);
  if (it == dials_.end()) return;
  auto conn = it->second.conn.lock();
  it->second.timer->cancel();
  dials_.erase(it);
  if (conn) conn->Close("peer removed", LogLevel::kInfo);
}

void SyncService::Impl::ScheduleDial(const std::string& address, int delay_ms) {
  auto it = dials_.find(address);
  if (it == dials_.end() || stopped_) return;
  it->second.timer->expires_after(std::chrono::milliseconds(delay_ms));
  it->second.timer->async_wait(
      [weak = weak_from_this(), address](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped_) return;
        self->Dial(address);
      });
}

void SyncService::Impl::Dial(const std::string& address) {
  auto it = dials_.find(address);
  if (it == dials_.end()) return;
  Impl::DialEntry& dial = it->second;
  if (auto live = dial.conn.lock(); live && !live->closed()) return;
  // Already connected to that peer another way (it dialed us): check later.
  if (dial.peer_key) {
    for (const auto& conn : conns_) {
      if (conn->ready() && conn->peer_key()->bytes() == *dial.peer_key) {
        ScheduleDial(address, options_.redial_initial_ms * 4);
        return;
      }
    }
  }
  auto parsed = ParseHostPort(address, PortRule::kPeer);
  if (!parsed.ok()) {
    dial.last_error = parsed.error().message;
    NB_LOG(kWarn, "sync") << parsed.error().message;
    return;
  }
  auto conn = std::make_shared<Connection>(this, tcp::socket(io_), true, address);
  conn->set_dial_address(address);
  dial.conn = conn;
  conns_.insert(conn);
  conn->StartDial(parsed->host, std::to_string(parsed->port));
}

std::vector<PeerStatus> SyncService::Impl::Peers() const {
  std::vector<PeerStatus> out;
  for (const auto& conn : conns_) out.push_back(conn->Describe());
  for (const auto& [address, dial] : dials_) {
    auto live = dial.conn.lock();
    if (live && !live->closed()) continue;
    bool connected_otherwise = false;
    for (const auto& conn : conns_) {
      if (dial.peer_key && conn->ready() && conn->peer_key()->bytes() == *dial.peer_key) {
        connected_otherwise = true;
      }
    }
    if (connected_otherwise) continue;
    PeerStatus s;
    s.address = address;
    s.direction = PeerStatus::Direction::kOutbound;
    s.state = "waiting";
    if (dial.peer_key) {
      auto key = crypto::PublicKey::FromBytes(*dial.peer_key);
      if (key.ok()) s.device_id = DeviceIdOf(*key);
    }
    s.last_error = dial.last_error;
    out.push_back(std::move(s));
  }
  return out;
}

void SyncService::Impl::Stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  acceptor_.reset();
  for (auto& [address, dial] : dials_) dial.timer->cancel();
  std::vector<std::shared_ptr<Connection>> open(conns_.begin(), conns_.end());
  for (auto& conn : open) conn->Close("stopping", LogLevel::kInfo);
  conns_.clear();
  // Blocks that arrived whole and verify are kept (one syncfs); the rest
  // (cut off mid-block) leave no temp file.
  if (receiver_) receiver_->Shutdown();
  if (sender_) sender_->Shutdown();
  for (auto& [id, hub] : hubs_) (void)hub->refs.Save();
}

// ---------------------------------------------------------------- SyncService

SyncService::SyncService(asio::io_context& io, crypto::PrivateKey instance_key, store::Store* store,
                         SyncServiceOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(instance_key), store, options)) {
  impl_->on_events_ = &on_events_received;
  impl_->on_block_ = &on_block_received;
}

SyncService::~SyncService() {
  Stop();
  impl_->on_events_ = nullptr;
  impl_->on_block_ = nullptr;
}

void SyncService::AddHub(hub::Hub* hub) { impl_->AddHub(hub); }
void SyncService::RemoveHub(const std::string& hub_id) { impl_->RemoveHub(hub_id); }
Status SyncService::Listen(const std::string& address) { return impl_->Listen(address); }
uint16_t SyncService::bound_port() const { return impl_->bound_port_; }
void SyncService::AddPeer(const std::string& host_port) { impl_->AddPeer(host_port); }
void SyncService::RemovePeer(const std::string& host_port) { impl_->RemovePeer(host_port); }
void SyncService::OnLocalEvents(const std::string& hub_id,
                                const std::vector<log::ValidEvent>& events) {
  impl_->OnLocalValidEvents(hub_id, events);
}
void SyncService::OnLocalEvents(const std::string& hub_id, const std::vector<Hash256>& events) {
  impl_->OnLocalEvents(hub_id, events);
}
std::vector<PeerStatus> SyncService::Peers() const { return impl_->Peers(); }
std::string SyncService::device_id() const { return impl_->device_id_; }
void SyncService::Stop() { impl_->Stop(); }

}  // namespace nb::sync::peer
