#include "crypto/keys.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <memory>
#include <stdexcept>

#include "crypto/kdf.h"

namespace nb::crypto {
namespace {

constexpr std::string_view kSeedSalt = "nearbytes-private-key-v1";
constexpr std::string_view kSymSalt = "nearbytes-sym-key-derivation-v1";
constexpr std::string_view kSymInfo = "nearbytes-symmetric-key";

Scalar ReduceModOrder(ByteSpan seed) {
  struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
  };
  struct CtxFree {
    void operator()(BN_CTX* c) const { BN_CTX_free(c); }
  };
  struct GroupFree {
    void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
  };
  std::unique_ptr<EC_GROUP, GroupFree> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  std::unique_ptr<BN_CTX, CtxFree> ctx(BN_CTX_new());
  std::unique_ptr<BIGNUM, BnFree> value(BN_bin2bn(seed.data(), static_cast<int>(seed.size()),
                                                  nullptr));
  std::unique_ptr<BIGNUM, BnFree> reduced(BN_new());
  if (!group || !ctx || !value || !reduced ||
      BN_nnmod(reduced.get(), value.get(), EC_GROUP_get0_order(group.get()), ctx.get()) != 1) {
    throw std::runtime_error("scalar reduction failed");
  }
  if (BN_is_zero(reduced.get())) BN_one(reduced.get());
  Scalar out{};
  if (BN_bn2binpad(reduced.get(), out.data(), static_cast<int>(out.size())) != 32) {
    throw std::runtime_error("scalar encoding failed");
  }
  return out;
}

}  // namespace

Result<DerivedKeys> DeriveKeys(ByteSpan secret_bytes) {
  Bytes seed = Pbkdf2Sha256(secret_bytes, AsBytes(kSeedSalt), kSecretPbkdf2Iterations, 32);
  Scalar scalar = ReduceModOrder(seed);
  NB_ASSIGN_OR_RETURN(PrivateKey key, PrivateKey::FromScalar(scalar));
  Bytes sym = HkdfSha256(scalar, AsBytes(kSymSalt), AsBytes(kSymInfo), kAesKeySize);
  SymmetricKey symmetric{};
  std::copy(sym.begin(), sym.end(), symmetric.begin());
  return DerivedKeys{std::move(seed), scalar, std::move(key), symmetric};
}

}  // namespace nb::crypto
