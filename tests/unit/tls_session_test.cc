// crypto::tls::Session: TLS 1.3 over memory buffers, driven entirely in
// memory here (the sync carrier moves the same bytes through its socket).
#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>

#include "crypto/random.h"
#include "crypto/tls.h"

namespace nb::crypto::tls {
namespace {

namespace ssl = boost::asio::ssl;

PrivateKey NewKey() {
  for (;;) {
    Scalar scalar;
    RandomFill(scalar);
    auto key = PrivateKey::FromScalar(scalar);
    if (key.ok()) return std::move(key).value();
  }
}

struct Pair {
  PrivateKey client_key = NewKey(), server_key = NewKey();
  ssl::context client_ctx{ssl::context::tls}, server_ctx{ssl::context::tls};
  std::unique_ptr<Session> client, server;
  Pair() {
    EXPECT_TRUE(ConfigureContext(client_ctx.native_handle(), client_key).ok());
    EXPECT_TRUE(ConfigureContext(server_ctx.native_handle(), server_key).ok());
    client = Session::Create(client_ctx.native_handle(), false).value();
    server = Session::Create(server_ctx.native_handle(), true).value();
  }
  // Moves whatever one side has to send to the other.
  static void Carry(Session& from, Session& to) {
    Bytes wire;
    from.TakeOutput(&wire);
    to.Feed(wire);
  }
  // Runs the handshake; how many times ciphertext crossed.
  int Handshake() {
    bool client_done = false, server_done = false;
    int crossings = 0;
    for (int i = 0; i < 10 && !(client_done && server_done); ++i) {
      client_done = client->Handshake().value();
      if (client->output_size() > 0) ++crossings;
      Carry(*client, *server);
      server_done = server->Handshake().value();
      if (server->output_size() > 0) ++crossings;
      Carry(*server, *client);
    }
    EXPECT_TRUE(client_done && server_done);
    return crossings;
  }
};

Bytes ReadAll(Session& session, size_t size) {
  Bytes out(size);
  size_t got = 0;
  while (got < size) {
    auto n = session.Read(std::span<uint8_t>(out.data() + got, size - got));
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    got += *n;
  }
  out.resize(got);
  return out;
}

TEST(TlsSession, HandshakesInMemoryAndBothSidesSeeTheSameSession) {
  Pair p;
  EXPECT_LE(p.Handshake(), 3);  // TLS 1.3: one round trip and the client's Finished
  EXPECT_EQ(PeerPublicKey(p.client->native_handle())->bytes(), p.server_key.public_key().bytes());
  EXPECT_EQ(PeerPublicKey(p.server->native_handle())->bytes(), p.client_key.public_key().bytes());
  EXPECT_EQ(ExportKeyingMaterial(p.client->native_handle(), "EXPORTER-test", 32).value(),
            ExportKeyingMaterial(p.server->native_handle(), "EXPORTER-test", 32).value());
}

TEST(TlsSession, AMebibyteCrossesAsOneBufferOfManyRecords) {
  Pair p;
  p.Handshake();
  Bytes data = RandomBytes(1 << 20);
  ASSERT_TRUE(p.client->Write(data).ok());
  // All of it is ready at once: one socket write can carry it (records of
  // 16 KiB, each with its few bytes of framing and tag).
  size_t records = (data.size() + 16383) / 16384;
  EXPECT_GE(p.client->output_size(), data.size() + records * 17);
  EXPECT_LE(p.client->output_size(), data.size() + records * 40);
  Bytes wire;
  p.client->TakeOutput(&wire);
  EXPECT_EQ(p.client->output_size(), 0u);
  // Fed in odd slices, read back whole.
  for (size_t at = 0; at < wire.size(); at += 100000) {
    p.server->Feed(ByteSpan(wire).subspan(at, std::min<size_t>(100000, wire.size() - at)));
  }
  EXPECT_EQ(ReadAll(*p.server, data.size()), data);
  // Nothing more: Read asks for input rather than failing.
  uint8_t byte;
  EXPECT_EQ(p.server->Read(std::span<uint8_t>(&byte, 1)).value(), 0u);
}

TEST(TlsSession, GarbageIsAnError) {
  Pair p;
  p.Handshake();
  Bytes garbage = RandomBytes(4096);
  garbage[0] = 23;  // application data, then a length and bytes that do not decrypt
  garbage[1] = 3;
  garbage[2] = 3;
  garbage[3] = 0x0f;
  garbage[4] = 0xf0;
  p.server->Feed(garbage);
  uint8_t byte;
  auto read = p.server->Read(std::span<uint8_t>(&byte, 1));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kCrypto);
}

}  // namespace
}  // namespace nb::crypto::tls
