// The OpenSSL side of the sync carrier's TLS (sync/peer/): contexts,
// certificates, session values, and Session: one connection's TLS over
// memory buffers, which the sync code feeds from and drains to its socket, so
// only src/crypto/ speaks to OpenSSL directly.
//
// Identity without a CA: each instance presents a self-signed certificate
// made from its instance P-256 key. Certificate chains are not checked (no
// name, no CA, no expiry means anything); the TLS handshake proves the peer
// holds the private key of the certificate's public key (CertificateVerify),
// and that public key is the peer's identity (PeerPublicKey).
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ecdsa.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL
struct bio_st;      // OpenSSL's BIO

namespace nb::crypto::tls {

// Sets up `ctx` for both roles: TLS 1.3 only; a fresh self-signed X.509
// certificate for `key` as ours; the peer must present a certificate (on
// either side) and any certificate passes the chain check; no session
// tickets (every connection does a full handshake, so every session's
// exporter value is fresh and bound to both certificates).
Status ConfigureContext(ssl_ctx_st* ctx, const PrivateKey& key);

// The public key of the certificate the peer presented, once the handshake
// is done. kCrypto if there is none or it is not an uncompressed P-256 key.
Result<PublicKey> PeerPublicKey(ssl_st* ssl);

// The TLS 1.3 exporter (RFC 8446 §7.5) for `label` with an empty context:
// a secret both ends of this one session share and nobody else knows.
Result<Bytes> ExportKeyingMaterial(ssl_st* ssl, std::string_view label, size_t length);

// One TLS connection whose ciphertext goes through memory, not a socket: the
// caller moves it between the Session and its socket itself, in reads and
// writes as large as it likes (many records per system call, where a socket
// BIO or a 17 KiB BIO pair costs one or more calls per 16 KiB record).
class Session {
 public:
  // `server`: accept the handshake rather than start it. The context must
  // outlive the session (ConfigureContext it first).
  static Result<std::unique_ptr<Session>> Create(ssl_ctx_st* ctx, bool server);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Advances the handshake with the input fed so far. True once done; false:
  // send Output() (if any) and feed the peer's answer. An error ends the
  // connection (not TLS 1.3, a bad certificate signature, garbage).
  Result<bool> Handshake();
  // Ciphertext received from the peer (copied in).
  void Feed(ByteSpan ciphertext);
  // Decrypts up to out.size() bytes of application data into `out`. 0: it
  // needs more ciphertext (Feed) first. kCancelled once the peer closed
  // the TLS session; kCrypto if what it sent is not valid TLS.
  Result<size_t> Read(std::span<uint8_t> out);
  // Encrypts all of `plaintext` (records of up to 16 KiB) into the output.
  Status Write(ByteSpan plaintext);
  // Ciphertext waiting to be sent (handshake messages, records).
  size_t output_size() const;
  // Moves the waiting ciphertext to `out` (replacing its content, keeping
  // its capacity).
  void TakeOutput(Bytes* out);

  ssl_st* native_handle() { return ssl_; }

 private:
  Session() = default;
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   // owned by ssl_
  bio_st* out_ = nullptr;  // owned by ssl_
};

}  // namespace nb::crypto::tls
