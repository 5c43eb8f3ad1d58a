#include "sync/peer/membership.h"

#include <algorithm>

#include "crypto/kdf.h"
#include "crypto/sha256.h"

namespace nb::sync::peer {

Bytes MembershipTagKey(const crypto::SymmetricKey& hub_symmetric_key) {
  return crypto::HkdfSha256(hub_symmetric_key, AsBytes("nearbytes-sync-v1"),
                            AsBytes("membership tag key"), 32);
}

Tag MembershipTag(ByteSpan tag_key, ByteSpan exporter, const crypto::PublicKey& sender) {
  Bytes data(exporter.begin(), exporter.end());
  data.insert(data.end(), sender.bytes().begin(), sender.bytes().end());
  Bytes mac = crypto::HmacSha256(tag_key, data);
  Tag tag;
  std::copy_n(mac.begin(), kTagSize, tag.begin());
  return tag;
}

Bytes MembershipMessage(ByteSpan exporter, const crypto::PublicKey& hub,
                        const crypto::PublicKey& signer, const crypto::PublicKey& other) {
  std::string_view domain = "nearbytes membership v1";
  // Sized once and filled in place (GCC 12 misreports appends to a vector
  // built from a short array as out of bounds).
  Bytes out(domain.size() + exporter.size() + 3 * crypto::kPublicKeySize);
  size_t pos = 0;
  auto put = [&](ByteSpan part) {
    std::copy(part.begin(), part.end(), out.begin() + static_cast<ptrdiff_t>(pos));
    pos += part.size();
  };
  put(AsBytes(domain));
  put(exporter);
  for (const auto* key : {&hub, &signer, &other}) put(key->bytes());
  out.resize(pos);
  return out;
}

}  // namespace nb::sync::peer
