#include "crypto/ecdsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <cstring>
#include <stdexcept>

#include "crypto/opaque_key.h"

namespace nb::crypto {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using GroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

char kGroupName[] = "prime256v1";

std::shared_ptr<OpaqueKey> BuildKey(ByteSpan public_point, const BIGNUM* private_scalar) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return nullptr;
  if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, kGroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                       public_point.size()) != 1) {
    return nullptr;
  }
  if (private_scalar != nullptr &&
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, private_scalar) != 1) {
    return nullptr;
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
  EVP_PKEY* pkey = nullptr;
  int selection = private_scalar != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, selection, params.get()) != 1) return nullptr;
  return std::make_shared<OpaqueKey>(pkey);
}

// Writes r||s as the DER form OpenSSL verifies: SEQUENCE { INTEGER r,
// INTEGER s }, each minimal (no leading zero bytes, one 0x00 before a high
// bit), which is the only form OpenSSL accepts. Returns the length (<= 72).
// Done by hand: building it through ECDSA_SIG and two BIGNUMs cost about as
// much as the rest of a verification's bookkeeping.
size_t CompactToDerInto(const uint8_t* sig, uint8_t* out) {
  auto put_integer = [](const uint8_t* value, uint8_t* o) -> size_t {
    size_t skip = 0;
    while (skip < 31 && value[skip] == 0) ++skip;
    const size_t length = 32 - skip;
    const bool pad = (value[skip] & 0x80) != 0;
    o[0] = 0x02;
    o[1] = static_cast<uint8_t>(length + (pad ? 1 : 0));
    size_t n = 2;
    if (pad) o[n++] = 0x00;
    std::memcpy(o + n, value + skip, length);
    return n + length;
  };
  out[0] = 0x30;
  size_t n = 2;
  n += put_integer(sig, out + n);
  n += put_integer(sig + 32, out + n);
  out[1] = static_cast<uint8_t>(n - 2);
  return n;
}

// A verification context per thread, kept for the last key it verified
// with: creating one (and fetching ECDSA from the provider) per signature
// cost several percent of a cold replay. The context holds a reference to
// its key, so the cached pointer cannot be reused by another key meanwhile.
struct VerifyContextCache {
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* ctx = nullptr;
  ~VerifyContextCache() { EVP_PKEY_CTX_free(ctx); }
};

EVP_PKEY_CTX* ThreadVerifyContext(EVP_PKEY* pkey) {
  thread_local VerifyContextCache cache;
  if (cache.ctx != nullptr && cache.pkey == pkey) return cache.ctx;
  EVP_PKEY_CTX_free(cache.ctx);
  cache.ctx = EVP_PKEY_CTX_new(pkey, nullptr);
  cache.pkey = pkey;
  if (cache.ctx == nullptr || EVP_PKEY_verify_init(cache.ctx) != 1) {
    EVP_PKEY_CTX_free(cache.ctx);
    cache.ctx = nullptr;
    cache.pkey = nullptr;
  }
  return cache.ctx;
}

}  // namespace

PublicKey::PublicKey(Bytes bytes, std::shared_ptr<OpaqueKey> key)
    : bytes_(std::move(bytes)), key_(std::move(key)) {}

Result<PublicKey> PublicKey::FromBytes(ByteSpan bytes) {
  if (bytes.size() != kPublicKeySize || bytes[0] != 0x04) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "public key must be 65 bytes of an uncompressed P-256 point");
  }
  auto key = BuildKey(bytes, nullptr);
  if (!key) return MakeError(ErrorCode::kInvalidArgument, "public key is not a P-256 point");
  return PublicKey(Bytes(bytes.begin(), bytes.end()), std::move(key));
}

Result<PublicKey> PublicKey::FromHex(std::string_view hex) {
  if (!IsHex(hex, kPublicKeySize * 2)) {
    return MakeError(ErrorCode::kInvalidArgument, "public key must be 130 hex digits");
  }
  return FromBytes(*HexDecode(hex));
}

bool PublicKey::Verify(ByteSpan message, ByteSpan signature) const {
  return VerifyDigest(Sha256(message), signature);
}

bool PublicKey::VerifyDigest(const Hash256& digest, ByteSpan signature) const {
  uint8_t der[72];
  size_t der_size = 0;
  if (signature.size() == kSignatureSize) {
    der_size = CompactToDerInto(signature.data(), der);
  } else if (signature.size() > 8 && signature.size() <= 72 && signature[0] == 0x30) {
    std::memcpy(der, signature.data(), signature.size());
    der_size = signature.size();
  } else {
    return false;
  }
  EVP_PKEY_CTX* ctx = ThreadVerifyContext(key_->pkey);
  if (ctx == nullptr) return false;
  return EVP_PKEY_verify(ctx, der, der_size, digest.bytes.data(), digest.bytes.size()) == 1;
}

PrivateKey::PrivateKey(std::shared_ptr<OpaqueKey> key, PublicKey public_key)
    : key_(std::move(key)), public_key_(std::move(public_key)) {}

Result<PrivateKey> PrivateKey::FromScalar(const Scalar& scalar) {
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnCtxPtr bn_ctx(BN_CTX_new());
  BnPtr priv(BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), nullptr));
  if (!group || !bn_ctx || !priv) throw std::runtime_error("out of memory building a key");
  if (BN_is_zero(priv.get()) || BN_cmp(priv.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "private scalar out of range");
  }
  PointPtr point(EC_POINT_new(group.get()));
  Bytes pub(kPublicKeySize);
  if (!point ||
      EC_POINT_mul(group.get(), point.get(), priv.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                         pub.size(), bn_ctx.get()) != kPublicKeySize) {
    return MakeError(ErrorCode::kCrypto, "could not compute the public key");
  }
  auto key = BuildKey(pub, priv.get());
  auto public_key = PublicKey::FromBytes(pub);
  if (!key || !public_key.ok()) return MakeError(ErrorCode::kCrypto, "could not build the key");
  return PrivateKey(std::move(key), std::move(public_key).value());
}

Signature PrivateKey::Sign(ByteSpan message) const { return SignDigest(Sha256(message)); }

Signature PrivateKey::SignDigest(const Hash256& digest) const {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_->pkey, nullptr));
  uint8_t der[80];
  size_t der_len = sizeof(der);
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_sign(ctx.get(), der, &der_len, digest.bytes.data(), digest.bytes.size()) != 1) {
    throw std::runtime_error("ECDSA signing failed");
  }
  const uint8_t* p = der;
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) throw std::runtime_error("ECDSA signature decoding failed");
  Signature out{};
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + 32, 32) != 32) {
    throw std::runtime_error("ECDSA signature encoding failed");
  }
  return out;
}

}  // namespace nb::crypto
