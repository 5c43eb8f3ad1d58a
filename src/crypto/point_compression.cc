#include "crypto/point_compression.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <memory>

namespace nb::crypto {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using GroupPtr = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP, EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;

}  // namespace

Bytes CompressPublicKey(const PublicKey& key) {
  // The uncompressed form is 04 || X || Y; only Y's parity survives.
  const Bytes& full = key.bytes();
  Bytes out(kCompressedPublicKeySize);
  out[0] = (full[kPublicKeySize - 1] & 1) != 0 ? 0x03 : 0x02;
  std::copy(full.begin() + 1, full.begin() + 33, out.begin() + 1);
  return out;
}

Result<PublicKey> DecompressPublicKey(ByteSpan compressed) {
  if (compressed.size() != kCompressedPublicKeySize ||
      (compressed[0] != 0x02 && compressed[0] != 0x03)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "compressed public key must be 33 bytes starting with 02 or 03");
  }
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  BnCtxPtr ctx(BN_CTX_new());
  PointPtr point(group ? EC_POINT_new(group.get()) : nullptr);
  if (!group || !ctx || !point) {
    return MakeError(ErrorCode::kCrypto, "out of memory decompressing a key");
  }
  // oct2point solves for Y and fails when X is not on the curve.
  if (EC_POINT_oct2point(group.get(), point.get(), compressed.data(), compressed.size(),
                         ctx.get()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "compressed public key is not a P-256 point");
  }
  Bytes full(kPublicKeySize);
  if (EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, full.data(),
                         full.size(), ctx.get()) != kPublicKeySize) {
    return MakeError(ErrorCode::kCrypto, "could not expand a compressed public key");
  }
  return PublicKey::FromBytes(full);
}

}  // namespace nb::crypto
