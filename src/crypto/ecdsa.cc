#include "crypto/ecdsa.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

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

// Converts r||s to the DER form OpenSSL verifies.
std::optional<Bytes> CompactToDer(ByteSpan sig) {
  EcdsaSigPtr s(ECDSA_SIG_new());
  if (!s) return std::nullopt;
  BIGNUM* r = BN_bin2bn(sig.data(), 32, nullptr);
  BIGNUM* sv = BN_bin2bn(sig.data() + 32, 32, nullptr);
  if (r == nullptr || sv == nullptr || ECDSA_SIG_set0(s.get(), r, sv) != 1) {
    BN_free(r);
    BN_free(sv);
    return std::nullopt;
  }
  int len = i2d_ECDSA_SIG(s.get(), nullptr);
  if (len <= 0) return std::nullopt;
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  i2d_ECDSA_SIG(s.get(), &p);
  return der;
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
  Bytes der;
  if (signature.size() == kSignatureSize) {
    auto converted = CompactToDer(signature);
    if (!converted) return false;
    der = std::move(*converted);
  } else if (signature.size() > 8 && signature.size() <= 72 && signature[0] == 0x30) {
    der.assign(signature.begin(), signature.end());
  } else {
    return false;
  }
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(key_->pkey, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return false;
  return EVP_PKEY_verify(ctx.get(), der.data(), der.size(), digest.bytes.data(),
                         digest.bytes.size()) == 1;
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
