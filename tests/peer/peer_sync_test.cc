// The socket carrier (sync/peer/) over real TLS on loopback: services with
// their own stores, each on its own io_context thread, and hand-made raw
// TLS clients that play hostile or curious peers. Every wait is bounded.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "apps/files/file_content.h"
#include "apps/files/files_writer.h"
#include "crypto/random.h"
#include "crypto/tls.h"
#include "hub/hub.h"
#include "log/event.h"
#include "peer/peer_node.h"
#include "store/store.h"
#include "sync/peer/membership.h"
#include "sync/peer/sync_service.h"
#include "sync/peer/wire.h"
#include "testing/test_support.h"

namespace nb::sync::peer {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using crypto::Hash256;
using namespace std::chrono_literals;
using test::BlocksOf;
using test::EventsOf;
using test::Keys;
using test::NewInstanceKey;
using test::Node;
using test::TempFilesIn;
using test::WaitFor;
using testing::TempDir;

void AppendMessages(hub::Hub& hub, int count, const std::string& tag) {
  for (int i = 0; i < count; ++i) {
    std::string payload =
        R"({"type":"TEST","n":)" + std::to_string(i) + R"(,"from":")" + tag + "\"}";
    ASSERT_TRUE(hub.AppendPayload(payload, {}).ok());
  }
}

struct StoredFile {
  apps::files::ContentRef ref;
  Hash256 plain_sha;
  uint64_t size = 0;
};

// Writes `size` random bytes to a file and puts it into the hub.
StoredFile PutRandomFile(hub::Hub& hub, const std::filesystem::path& scratch, uint64_t size,
                         apps::files::ContentLayout layout, const std::string& name) {
  std::filesystem::path path = scratch / name;
  crypto::Sha256Stream sha;
  {
    std::ofstream out(path, std::ios::binary);
    Bytes chunk(1 << 20);
    for (uint64_t done = 0; done < size;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), size - done));
      crypto::RandomFill(std::span<uint8_t>(chunk.data(), n));
      out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n));
      sha.Update(ByteSpan(chunk.data(), n));
      done += n;
    }
  }
  const auto& key = hub.keys().symmetric_key();
  apps::files::Ingestor ingestor(hub.store(), key, 1, layout);
  auto stored = ingestor.IngestAll({{path.string()}}, nullptr);
  EXPECT_TRUE(stored.ok());
  auto writer = apps::files::FilesWriter::Load(hub);
  EXPECT_TRUE(writer.ok());
  auto created = (*writer)->CreateFile(
      name, (*stored)[0].ref, apps::files::WrapFileKey(key, apps::files::DedupFileKey(key)),
      std::nullopt);
  EXPECT_TRUE(created.ok()) << created.error().message;
  std::filesystem::remove(path);
  return StoredFile{(*stored)[0].ref, sha.Finish(), size};
}

// Reads a file's content back from `store` (verified) and hashes it.
std::optional<Hash256> ReadBack(store::Store& store, const hub::HubKeys& keys,
                                const StoredFile& file) {
  const auto& key = keys.symmetric_key();
  crypto::Sha256Stream sha;
  Status read = apps::files::ReadContent(
      store, key, file.ref, apps::files::WrapFileKey(key, apps::files::DedupFileKey(key)),
      [&](ByteSpan data) {
        sha.Update(data);
        return Status::Ok();
      });
  if (!read.ok()) return std::nullopt;
  return sha.Finish();
}

bool Converged(store::Store& a, store::Store& b, const std::string& hub_id) {
  return EventsOf(a, hub_id) == EventsOf(b, hub_id) && BlocksOf(a) == BlocksOf(b);
}

// ---- a raw TLS peer, to play the curious or hostile side ----

class RawPeer {
 public:
  RawPeer() : key_(NewInstanceKey()) {
    // Before the stream exists: an SSL object copies its context's certificate.
    EXPECT_TRUE(crypto::tls::ConfigureContext(tls_.native_handle(), key_).ok());
    stream_.emplace(io_, tls_);
  }

  bool Connect(uint16_t port) {
    bool done = false, ok = false;
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    stream_->next_layer().async_connect(endpoint, [&](const boost::system::error_code& ec) {
      if (ec) {
        done = true;
        return;
      }
      stream_->async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& ec) {
        done = true;
        ok = !ec;
      });
    });
    RunUntil([&] { return done; }, 10s);
    if (!ok) return false;
    exporter_ =
        crypto::tls::ExportKeyingMaterial(stream_->native_handle(), kExporterLabel, kExporterSize)
            .value();
    server_key_ = crypto::tls::PeerPublicKey(stream_->native_handle()).value();
    ReadLoop();
    return true;
  }

  void Write(Bytes bytes) {
    bool done = false;
    auto buffer = std::make_shared<Bytes>(std::move(bytes));
    asio::async_write(*stream_, asio::buffer(*buffer),
                      [&, buffer](const boost::system::error_code&, size_t) { done = true; });
    RunUntil([&] { return done; }, 10s);
  }

  template <typename Pred>
  bool RunUntil(Pred pred, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      io_.restart();
      io_.run_for(5ms);
    }
    return pred();
  }

  // Waits for the next frame of `type` (others are kept in frames()).
  std::optional<Bytes> WaitFrame(FrameType type, std::chrono::milliseconds limit = 10s) {
    std::optional<Bytes> found;
    RunUntil(
        [&] {
          for (size_t i = taken_; i < frames_.size(); ++i) {
            if (frames_[i][0] == static_cast<uint8_t>(type)) {
              found = frames_[i];
              taken_ = i + 1;
              return true;
            }
          }
          return closed_;
        },
        limit);
    return found;
  }
  bool WaitClosed(std::chrono::milliseconds limit = 10s) {
    return RunUntil([&] { return closed_; }, limit);
  }

  // Membership as a member of `keys` (channel 0), or with random tags only.
  void Hello(const hub::HubKeys* keys) {
    FrameWriter w(FrameType::kHello);
    w.U8(kProtocolVersion).U16(8);
    for (int i = 0; i < 8; ++i) {
      if (i == 0 && keys != nullptr) {
        w.Raw(MembershipTag(MembershipTagKey(keys->symmetric_key()), exporter_, key_.public_key()));
      } else {
        w.Raw(crypto::RandomBytes(kTagSize));
      }
    }
    Write(std::move(w).Finish());
  }
  void Prove(const hub::HubKeys& keys) {
    FrameWriter w(FrameType::kProof);
    w.U16(1).U16(0).Raw(keys.signing_key().Sign(
        MembershipMessage(exporter_, keys.public_key(), key_.public_key(), *server_key_)));
    Write(std::move(w).Finish());
  }
  bool JoinAsMember(const hub::HubKeys& keys) {
    Hello(&keys);
    auto proof = WaitFrame(FrameType::kProof);
    if (!proof) return false;
    Prove(keys);
    return true;
  }

  const Bytes& received() const { return received_; }
  const std::vector<Bytes>& frames() const { return frames_; }
  bool closed() const { return closed_; }

 private:
  void ReadLoop() {
    stream_->async_read_some(
        asio::buffer(chunk_), [this](const boost::system::error_code& ec, size_t n) {
          if (ec) {
            closed_ = true;
            return;
          }
          received_.insert(received_.end(), chunk_.begin(), chunk_.begin() + n);
          while (received_.size() - parsed_ >= 4) {
            uint32_t length = ReadU32Be(received_.data() + parsed_);
            if (received_.size() - parsed_ - 4 < length) break;
            frames_.emplace_back(received_.begin() + parsed_ + 4,
                                 received_.begin() + parsed_ + 4 + length);
            parsed_ += 4 + length;
          }
          ReadLoop();
        });
  }

  crypto::PrivateKey key_;
  asio::io_context io_;
  ssl::context tls_{ssl::context::tls};
  std::optional<ssl::stream<tcp::socket>> stream_;
  Bytes exporter_;
  std::optional<crypto::PublicKey> server_key_;
  std::array<uint8_t, 65536> chunk_{};
  Bytes received_;
  size_t parsed_ = 0;
  std::vector<Bytes> frames_;
  size_t taken_ = 0;
  bool closed_ = false;
};

Bytes EventsFrame(uint16_t ch, const Hash256& hash, const std::string& file) {
  FrameWriter w(FrameType::kEvents);
  w.U16(ch).U16(1).Hash(hash).U32(static_cast<uint32_t>(file.size())).Raw(AsBytes(file));
  return std::move(w).Finish();
}

// An event of `keys`' hub, signed, made in a scratch store.
log::ValidEvent MakeEvent(const hub::HubKeys& keys, const std::vector<Hash256>& refs) {
  TempDir scratch;
  auto store = store::Store::Open({scratch.path()}, true).value();
  auto hub = hub::Hub::Open(store.get(), keys, true).value();
  return hub->AppendPayload(R"({"type":"TEST"})", refs).value();
}

constexpr char kHub[] = "peer-sync-test:shared secret";
constexpr char kOtherHub[] = "peer-sync-test:somebody else's";

// ---------------------------------------------------------------- tests

TEST(PeerSync, EventsAndBlocksConvergeBothWays) {
  TempDir dir;
  std::filesystem::create_directories(dir / "scratch");
  Node a(dir / "a"), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  hub::Hub& hub_b = b.OpenHub(kHub);
  AppendMessages(hub_a, 40, "a");
  AppendMessages(hub_b, 25, "b");
  StoredFile chunked = PutRandomFile(hub_a, dir / "scratch", 6u << 20,
                                     apps::files::ContentLayout::kChunked, "chunked.bin");
  StoredFile single = PutRandomFile(hub_b, dir / "scratch", 64u << 20,
                                    apps::files::ContentLayout::kSingleBlock, "single.bin");
  ASSERT_EQ(chunked.ref.kind, apps::files::ContentRef::Kind::kManifest);

  a.StartService();
  b.StartService();
  uint16_t port = a.Listen();
  b.Dial(port);
  ASSERT_TRUE(WaitFor([&] { return Converged(a.store(), b.store(), hub_a.id()); }, 120s))
      << "events a=" << EventsOf(a.store(), hub_a.id()).size()
      << " b=" << EventsOf(b.store(), hub_a.id()).size()
      << " blocks a=" << BlocksOf(a.store()).size() << " b=" << BlocksOf(b.store()).size();
  EXPECT_EQ(EventsOf(a.store(), hub_a.id()).size(), 40u + 25u + 2u);
  EXPECT_EQ(ReadBack(b.store(), hub_b.keys(), chunked), chunked.plain_sha);
  EXPECT_EQ(ReadBack(a.store(), hub_a.keys(), single), single.plain_sha);
  EXPECT_EQ(TempFilesIn(a.store().primary().blocks_dir()), 0u);
  EXPECT_EQ(TempFilesIn(b.store().primary().blocks_dir()), 0u);

  auto peers = a.Peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].device_id, b.Run([&] { return b.service().device_id(); }));
  EXPECT_EQ(peers[0].hubs, std::vector<std::string>{hub_a.id()});
  EXPECT_EQ(peers[0].direction, PeerStatus::Direction::kInbound);
  EXPECT_GT(peers[0].bytes_in, 64u << 20);  // b sent it the 64 MiB block
}

TEST(PeerSync, LiveEventsReachAConnectedPeerAtOnce) {
  TempDir dir;
  Node a(dir / "a"), b(dir / "b"), c(dir / "c");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  c.OpenHub(kHub);
  a.StartService();
  b.StartService();
  c.StartService();
  uint16_t port = a.Listen();
  uint16_t port_b = b.Listen();
  b.Dial(port);
  c.Dial(port_b);  // c meets a only through b
  ASSERT_TRUE(WaitFor(
      [&] {
        auto pa = a.Peers();
        auto pc = c.Peers();
        return pa.size() == 1 && pa[0].state == "idle" && pc.size() == 1 && pc[0].state == "idle";
      },
      20s));
  for (int round = 0; round < 5; ++round) {
    size_t before_b = b.received_events_, before_c = c.received_events_;
    auto sent_at = std::chrono::steady_clock::now();
    Hash256 hash = a.Run([&] {
      auto event = hub_a.AppendPayload(R"({"type":"TEST","live":true})", {}).value();
      a.service().OnLocalEvents(hub_a.id(), {event.hash});
      return event.hash;
    });
    ASSERT_TRUE(WaitFor([&] { return b.received_events_ > before_b; }, 10s));
    auto latency = std::chrono::duration<double, std::milli>(b.last_received_at_.load() - sent_at);
    ASSERT_TRUE(WaitFor([&] { return c.received_events_ > before_c; }, 10s));
    auto relayed = std::chrono::duration<double, std::milli>(c.last_received_at_.load() - sent_at);
    EXPECT_TRUE(b.store().HasEvent(hub_a.id(), hash));
    EXPECT_TRUE(c.store().HasEvent(hub_a.id(), hash));
    std::printf("live event: a -> b %.1f ms, a -> b -> c %.1f ms\n", latency.count(),
                relayed.count());
  }
}

TEST(PeerSync, ANonMemberReceivesNothingAndLearnsNoHubId) {
  TempDir dir;
  Node a(dir / "a");
  hub::Hub& hub_a = a.OpenHub(kHub);
  AppendMessages(hub_a, 5, "a");
  a.StartService();
  uint16_t port = a.Listen();

  RawPeer stranger;
  ASSERT_TRUE(stranger.Connect(port));
  stranger.Hello(&Keys(kOtherHub));
  ASSERT_TRUE(stranger.WaitFrame(FrameType::kProof).has_value());
  stranger.RunUntil([] { return false; }, 500ms);  // take whatever else comes
  ASSERT_FALSE(stranger.closed());

  // It got a hello of random-looking tags and an empty proof, nothing more.
  for (const auto& frame : stranger.frames()) {
    auto type = static_cast<FrameType>(frame[0]);
    EXPECT_TRUE(type == FrameType::kHello || type == FrameType::kProof || type == FrameType::kPing)
        << FrameTypeName(frame[0]);
    if (type == FrameType::kProof) {
      EXPECT_EQ(frame.size(), 3u);  // type + count 0
    }
    if (type == FrameType::kHello) {
      EXPECT_EQ(frame.size(), 1u + 1 + 2 + 8 * kTagSize);
    }
  }
  // No form of the hub id appears in what it received.
  const Bytes& seen = stranger.received();
  const Bytes& id_bytes = hub_a.keys().public_key().bytes();
  std::string seen_text(AsChars(seen));
  EXPECT_EQ(std::search(seen.begin(), seen.end(), id_bytes.begin() + 1, id_bytes.begin() + 17),
            seen.end());
  EXPECT_EQ(seen_text.find(hub_a.id().substr(0, 16)), std::string::npos);
  EXPECT_EQ(a.Peers().at(0).hubs.size(), 0u);

  // And a member sees its tag among them: the offer is not empty for members.
  RawPeer member;
  ASSERT_TRUE(member.Connect(port));
  ASSERT_TRUE(member.JoinAsMember(Keys(kHub)));
  ASSERT_TRUE(WaitFor([&] { return a.Peers().size() == 2; }, 5s));
}

TEST(PeerSync, HostilePeersAreCutOffWhileAGoodPeerKeepsSyncing) {
  TempDir dir;
  SyncServiceOptions options;
  options.max_reconcile_rounds = 5;
  Node a(dir / "a", options), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  AppendMessages(hub_a, 3, "a");
  a.StartService();
  b.StartService();
  uint16_t port = a.Listen();
  b.Dial(port);
  ASSERT_TRUE(WaitFor([&] { return Converged(a.store(), b.store(), hub_a.id()); }, 20s));
  const hub::HubKeys& keys = Keys(kHub);
  size_t events_before = EventsOf(a.store(), hub_a.id()).size();

  {  // garbage instead of frames
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    Bytes garbage = crypto::RandomBytes(4096);
    // A plausible length and a hello type, then nonsense.
    garbage[0] = 0x00;
    garbage[1] = 0x00;
    garbage[2] = 0x00;
    garbage[3] = 100;
    garbage[4] = static_cast<uint8_t>(FrameType::kHello);
    garbage[5] = 0x77;
    peer.Write(garbage);
    EXPECT_TRUE(peer.WaitClosed());
  }
  {  // an oversized frame length
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    peer.Write(Bytes{0x7f, 0xff, 0xff, 0xff, 1});
    EXPECT_TRUE(peer.WaitClosed());
  }
  {  // an unknown frame type from a member
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    ASSERT_TRUE(peer.JoinAsMember(keys));
    peer.Write(Bytes{0, 0, 0, 1, 0xee});
    EXPECT_TRUE(peer.WaitClosed());
  }
  {  // a proof that does not verify (signed by another hub's key)
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    peer.Hello(&keys);
    ASSERT_TRUE(peer.WaitFrame(FrameType::kProof).has_value());
    peer.Prove(Keys(kOtherHub));
    EXPECT_TRUE(peer.WaitClosed());
  }
  Hash256 forged_hash;
  {  // a forged event: a member whose event's signature was tampered with
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    ASSERT_TRUE(peer.JoinAsMember(keys));
    log::ValidEvent event = MakeEvent(keys, {});
    Bytes signature = event.signature;
    signature[10] ^= 0x55;
    forged_hash = event.hash;
    peer.Write(EventsFrame(0, event.hash, log::SerializeEventFile(event.envelope, signature)));
    EXPECT_TRUE(peer.WaitClosed());
  }
  Hash256 bad_block = crypto::Sha256(AsBytes("the block the hostile peer claims to have"));
  {  // a wrong block: a valid event names it, then the bytes do not match
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    ASSERT_TRUE(peer.JoinAsMember(keys));
    log::ValidEvent event = MakeEvent(keys, {bad_block});
    peer.Write(
        EventsFrame(0, event.hash, log::SerializeEventFile(event.envelope, event.signature)));
    auto request = peer.WaitFrame(FrameType::kGetBlock);
    ASSERT_TRUE(request.has_value());
    FrameReader r(ByteSpan(*request).subspan(1));
    (void)r.U16();
    uint32_t id = *r.U32();
    EXPECT_EQ(*r.Hash(), bad_block);
    Bytes wrong = crypto::RandomBytes(300000);
    FrameWriter begin(FrameType::kBlockBegin);
    begin.U32(id).U8(1).U64(wrong.size());
    peer.Write(std::move(begin).Finish());
    FrameWriter data(FrameType::kBlockData);
    data.U32(id).Raw(ByteSpan(wrong).first(200000));
    peer.Write(std::move(data).Finish());
    FrameWriter more(FrameType::kBlockData);
    more.U32(id).Raw(ByteSpan(wrong).subspan(200000));
    peer.Write(std::move(more).Finish());
    FrameWriter end(FrameType::kBlockEnd);
    end.U32(id).U8(1);
    peer.Write(std::move(end).Finish());
    EXPECT_TRUE(peer.WaitClosed());
  }
  {  // endless reconciliation: queries past the round limit
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    ASSERT_TRUE(peer.JoinAsMember(keys));
    for (int i = 0; i < 10 && !peer.closed(); ++i) {
      FrameWriter w(FrameType::kReconcile);
      w.U16(0).U8(0x61).U8(0).U8(0).U8(2).U8(0);  // v1: one (infinity, id list of 0) range
      peer.Write(std::move(w).Finish());
      peer.RunUntil([] { return false; }, 20ms);
    }
    EXPECT_TRUE(peer.WaitClosed());
  }
  EXPECT_FALSE(a.store().HasEvent(hub_a.id(), forged_hash));
  EXPECT_FALSE(b.store().HasEvent(hub_a.id(), forged_hash));
  EXPECT_FALSE(a.store().HasBlock(bad_block));
  EXPECT_EQ(TempFilesIn(a.store().primary().blocks_dir()), 0u);
  // The one valid event the hostile member sent was published (it was valid).
  EXPECT_EQ(EventsOf(a.store(), hub_a.id()).size(), events_before + 1);

  // The good peer is still connected and syncing.
  size_t before = b.received_events_;
  a.Run([&] {
    auto event = hub_a.AppendPayload(R"({"type":"TEST","after":"hostiles"})", {}).value();
    a.service().OnLocalEvents(hub_a.id(), {event.hash});
  });
  EXPECT_TRUE(WaitFor([&] { return b.received_events_ > before; }, 10s));
  EXPECT_TRUE(WaitFor([&] { return Converged(a.store(), b.store(), hub_a.id()); }, 10s));
}

TEST(PeerSync, SilentPeersAreDroppedByTheTimeouts) {
  TempDir dir;
  SyncServiceOptions quick;
  quick.handshake_timeout_ms = 300;
  quick.idle_timeout_ms = 600;
  Node a(dir / "a", quick);
  a.OpenHub(kHub);
  a.StartService();
  uint16_t port = a.Listen();
  {  // connects, never says hello
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    EXPECT_TRUE(peer.WaitClosed(5s));
  }
  {  // joins, then neither answers the pings nor sends anything
    RawPeer peer;
    ASSERT_TRUE(peer.Connect(port));
    ASSERT_TRUE(peer.JoinAsMember(Keys(kHub)));
    EXPECT_TRUE(peer.WaitFrame(FrameType::kPing, 5s).has_value());
    EXPECT_TRUE(peer.WaitClosed(5s));
  }
  EXPECT_TRUE(WaitFor([&] { return a.Peers().empty(); }, 5s));
}

TEST(PeerSync, APeerStoppedMidBlockLeavesNoPartialBlockAndAReconnectCompletes) {
  TempDir dir;
  std::filesystem::create_directories(dir / "scratch");
  SyncServiceOptions slow;
  slow.block_chunk = 4096;  // many frames: the transfer is long enough to interrupt
  Node a(dir / "a", slow), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  StoredFile file = PutRandomFile(hub_a, dir / "scratch", 48u << 20,
                                  apps::files::ContentLayout::kSingleBlock, "big.bin");
  a.StartService();
  b.StartService();
  uint16_t port = a.Listen();
  b.Dial(port);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto peers = b.Peers();
        return !peers.empty() && peers[0].bytes_in_flight > 0 &&
               peers[0].bytes_in_flight < file.size;
      },
      30s));
  a.StopService();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto peers = b.Peers();
        return peers.size() == 1 && peers[0].state == "waiting";
      },
      10s));
  EXPECT_FALSE(b.store().HasBlock(file.ref.hash));
  EXPECT_EQ(TempFilesIn(b.store().primary().blocks_dir()), 0u);
  EXPECT_EQ(BlocksOf(b.store()).size(), 0u);

  a.StartService();
  a.Listen(port);
  ASSERT_TRUE(WaitFor([&] { return Converged(a.store(), b.store(), hub_a.id()); }, 120s));
  EXPECT_EQ(ReadBack(b.store(), hub_a.keys(), file), file.plain_sha);
}

TEST(PeerSync, AReceiverStoppedMidBlockKeepsNoTempAndCompletesWhenRestarted) {
  TempDir dir;
  std::filesystem::create_directories(dir / "scratch");
  SyncServiceOptions slow;
  slow.block_chunk = 4096;
  Node a(dir / "a", slow), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  StoredFile file = PutRandomFile(hub_a, dir / "scratch", 48u << 20,
                                  apps::files::ContentLayout::kSingleBlock, "big.bin");
  a.StartService();
  b.StartService();
  uint16_t port = a.Listen();
  b.Dial(port);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto peers = b.Peers();
        return !peers.empty() && peers[0].bytes_in_flight > 0 &&
               peers[0].bytes_in_flight < file.size;
      },
      30s));
  b.StopService();
  EXPECT_FALSE(b.store().HasBlock(file.ref.hash));
  EXPECT_EQ(TempFilesIn(b.store().primary().blocks_dir()), 0u);
  b.StartService();
  b.Dial(port);
  ASSERT_TRUE(WaitFor([&] { return Converged(a.store(), b.store(), hub_a.id()); }, 120s));
  EXPECT_EQ(ReadBack(b.store(), hub_a.keys(), file), file.plain_sha);
}

// Numbers, not assertions: NEARBYTES_PEER_MEASURE=1 to run.
TEST(PeerSync, MeasureLargeBlockAndManySmallEvents) {
  if (std::getenv("NEARBYTES_PEER_MEASURE") == nullptr) GTEST_SKIP() << "NEARBYTES_PEER_MEASURE";
  TempDir dir;
  std::filesystem::create_directories(dir / "scratch");
  Node a(dir / "a"), b(dir / "b");
  hub::Hub& hub_a = a.OpenHub(kHub);
  b.OpenHub(kHub);
  StoredFile file = PutRandomFile(hub_a, dir / "scratch", 256u << 20,
                                  apps::files::ContentLayout::kSingleBlock, "huge.bin");
  a.StartService();
  b.StartService();
  uint16_t port = a.Listen();
  // Polled through counters the service bumps (no directory listings that
  // would compete with the transfer for the two cores).
  auto start = std::chrono::steady_clock::now();
  b.Dial(port);
  ASSERT_TRUE(WaitFor([&] { return b.received_blocks_ >= 1; }, 600s));
  double block_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "256 MiB block over loopback (connect, reconcile, stream, fsync): %.2f s (%.0f MiB/s)\n",
      block_s, 256 / block_s);

  AppendMessages(hub_a, 2000, "many");
  size_t before = b.received_events_;
  start = std::chrono::steady_clock::now();
  a.Run([&] {
    auto listed = a.store().ListEvents(hub_a.id()).value();
    a.service().OnLocalEvents(hub_a.id(), listed);
  });
  ASSERT_TRUE(WaitFor([&] { return b.received_events_ >= before + 2000; }, 600s));
  double live_s = std::chrono::duration<double>(b.last_received_at_.load() - start).count();
  std::printf("2,000 small events pushed live: %.2f s\n", live_s);

  // The same events found by reconciliation: a fresh peer c.
  Node c(dir / "c");
  c.OpenHub(kHub);
  c.StartService();
  start = std::chrono::steady_clock::now();
  c.Dial(port);
  ASSERT_TRUE(WaitFor([&] { return c.received_events_ >= 2001; }, 600s));
  double reconcile_s = std::chrono::duration<double>(c.last_received_at_.load() - start).count();
  std::printf("2,001 events to a fresh peer (connect, reconcile, transfer): %.2f s\n", reconcile_s);
  EXPECT_TRUE(WaitFor([&] { return c.received_blocks_ >= 1; }, 600s));
  EXPECT_EQ(ReadBack(b.store(), hub_a.keys(), file), file.plain_sha);
}

}  // namespace
}  // namespace nb::sync::peer
