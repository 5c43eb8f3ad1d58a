// The OpenSSL side of the sync carrier's TLS (sync/peer/): contexts,
// certificates and session values. Sync code drives the connection with
// boost::asio::ssl::stream and calls these on its native handles, so only
// src/crypto/ speaks to OpenSSL directly.
//
// Identity without a CA: each instance presents a self-signed certificate
// made from its instance P-256 key. Certificate chains are not checked (no
// name, no CA, no expiry means anything); the TLS handshake proves the peer
// holds the private key of the certificate's public key (CertificateVerify),
// and that public key is the peer's identity (PeerPublicKey).
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ecdsa.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

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

}  // namespace nb::crypto::tls
