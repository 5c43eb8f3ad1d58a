#include "crypto/tls.h"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

#include "crypto/opaque_key.h"
#include "crypto/random.h"

namespace nb::crypto::tls {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string OpenSslError(const char* what) {
  unsigned long code = ERR_get_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof(text));
  ERR_clear_error();
  return std::string(what) + ": " + text;
}

// Accepts any chain: the identity is the certificate's key, checked by the
// caller after the handshake (the handshake itself proves the peer holds
// that key).
int AcceptAnyCertificate(int /*preverify_ok*/, X509_STORE_CTX* /*store*/) { return 1; }

Result<std::unique_ptr<X509, X509Free>> SelfSigned(const PrivateKey& key) {
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!cert) return MakeError(ErrorCode::kCrypto, OpenSslError("X509_new"));
  uint8_t serial[8];
  RandomFill(serial);
  serial[0] &= 0x7f;  // a positive integer
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof(serial), nullptr),
                                                 BN_free);
  EVP_PKEY* pkey = key.opaque().pkey;
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!bn || X509_set_version(cert.get(), 2) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650L * 86400) == nullptr ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>("nearbytes instance"), -1,
                                 -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1 || X509_set_pubkey(cert.get(), pkey) != 1 ||
      X509_sign(cert.get(), pkey, EVP_sha256()) <= 0) {
    return MakeError(ErrorCode::kCrypto, OpenSslError("cannot make the instance certificate"));
  }
  return cert;
}

}  // namespace

Status ConfigureContext(ssl_ctx_st* ctx, const PrivateKey& key) {
  NB_ASSIGN_OR_RETURN(auto cert, SelfSigned(key));
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.opaque().pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1 ||
      SSL_CTX_set_num_tickets(ctx, 0) != 1) {
    return MakeError(ErrorCode::kCrypto, OpenSslError("cannot set up TLS"));
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, AcceptAnyCertificate);
  return Status::Ok();
}

Result<PublicKey> PeerPublicKey(ssl_st* ssl) {
  std::unique_ptr<X509, X509Free> cert(SSL_get1_peer_certificate(ssl));
  if (!cert) return MakeError(ErrorCode::kCrypto, "the peer presented no certificate");
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());
  if (pkey == nullptr || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
    return MakeError(ErrorCode::kCrypto, "the peer's certificate does not hold an EC key");
  }
  Bytes point(kPublicKeySize + 1);
  size_t length = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                      point.size(), &length) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kCrypto, "the peer's certificate key is not a P-256 key");
  }
  point.resize(length);
  auto key = PublicKey::FromBytes(point);
  if (!key.ok()) {
    return MakeError(ErrorCode::kCrypto,
                     "the peer's certificate key is not a P-256 key: " + key.error().message);
  }
  return key;
}

Result<Bytes> ExportKeyingMaterial(ssl_st* ssl, std::string_view label, size_t length) {
  Bytes out(length);
  std::string label_text(label);
  if (SSL_export_keying_material(ssl, out.data(), out.size(), label_text.data(), label_text.size(),
                                 nullptr, 0, 0) != 1) {
    return MakeError(ErrorCode::kCrypto, OpenSslError("TLS exporter failed"));
  }
  return out;
}

Result<std::unique_ptr<Session>> Session::Create(ssl_ctx_st* ctx, bool server) {
  std::unique_ptr<Session> session(new Session());
  session->ssl_ = SSL_new(ctx);
  if (session->ssl_ == nullptr) {
    return MakeError(ErrorCode::kCrypto, OpenSslError("cannot start a TLS session"));
  }
  session->in_ = BIO_new(BIO_s_mem());
  session->out_ = BIO_new(BIO_s_mem());
  if (session->in_ == nullptr || session->out_ == nullptr) {
    BIO_free(session->in_);
    BIO_free(session->out_);
    session->in_ = session->out_ = nullptr;
    return MakeError(ErrorCode::kCrypto, OpenSslError("cannot start a TLS session"));
  }
  // An empty input BIO means "wait for more", not end of stream.
  BIO_set_mem_eof_return(session->in_, -1);
  BIO_set_mem_eof_return(session->out_, -1);
  SSL_set_bio(session->ssl_, session->in_, session->out_);
  if (server) {
    SSL_set_accept_state(session->ssl_);
  } else {
    SSL_set_connect_state(session->ssl_);
  }
  return session;
}

Session::~Session() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs
}

Result<bool> Session::Handshake() {
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return true;
  int error = SSL_get_error(ssl_, r);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return false;
  }
  return MakeError(ErrorCode::kCrypto, OpenSslError("TLS handshake failed"));
}

void Session::Feed(ByteSpan ciphertext) {
  // A memory BIO grows as needed: this cannot fail short of memory.
  if (!ciphertext.empty()) {
    BIO_write(in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
  }
}

Result<size_t> Session::Read(std::span<uint8_t> out) {
  if (out.empty()) return size_t{0};
  size_t got = 0;
  int r = SSL_read_ex(ssl_, out.data(), out.size(), &got);
  if (r == 1) return got;
  int error = SSL_get_error(ssl_, r);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return size_t{0};
  }
  if (error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    return MakeError(ErrorCode::kCancelled, "the peer closed the TLS session");
  }
  return MakeError(ErrorCode::kCrypto, OpenSslError("TLS read failed"));
}

Status Session::Write(ByteSpan plaintext) {
  size_t done = 0;
  while (done < plaintext.size()) {
    size_t written = 0;
    if (SSL_write_ex(ssl_, plaintext.data() + done, plaintext.size() - done, &written) != 1) {
      return MakeError(ErrorCode::kCrypto, OpenSslError("TLS write failed"));
    }
    done += written;
  }
  return Status::Ok();
}

size_t Session::output_size() const { return BIO_ctrl_pending(out_); }

void Session::TakeOutput(Bytes* out) {
  // One copy straight out of the BIO's buffer (no zero-filling resize).
  BUF_MEM* pending = nullptr;
  BIO_get_mem_ptr(out_, &pending);
  if (pending == nullptr || pending->length == 0) {
    out->clear();
    return;
  }
  out->assign(pending->data, pending->data + pending->length);
  (void)BIO_reset(out_);
}

}  // namespace nb::crypto::tls
