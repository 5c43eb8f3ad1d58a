// Hub membership without disclosure (docs/sync-protocol.md §3).
//
// E is the TLS exporter value of the session (32 bytes, label
// "EXPORTER-nearbytes-sync-v1"). Per hub, only holders of the secret know
//   K_hub = HKDF-SHA256(IKM = hub symmetric key, salt = "nearbytes-sync-v1",
//                       info = "membership tag key", 32 bytes)
// and each side offers, per hub it holds,
//   tag = HMAC-SHA256(K_hub, E || sender instance public key)[0..16)
// which only another holder can recognise and which changes every session.
// For each hub both recognise, each side then signs with the hub key
//   SHA-256("nearbytes membership v1" || E || hub public key (65 bytes)
//           || signer instance public key || other instance public key).
#pragma once

#include <array>

#include "base/bytes.h"
#include "crypto/aead.h"
#include "crypto/ecdsa.h"

namespace nb::sync::peer {

constexpr size_t kTagSize = 16;
constexpr size_t kExporterSize = 32;
constexpr std::string_view kExporterLabel = "EXPORTER-nearbytes-sync-v1";
using Tag = std::array<uint8_t, kTagSize>;

Bytes MembershipTagKey(const crypto::SymmetricKey& hub_symmetric_key);
Tag MembershipTag(ByteSpan tag_key, ByteSpan exporter, const crypto::PublicKey& sender);
// The bytes signed (as SHA-256(message)) by the hub key.
Bytes MembershipMessage(ByteSpan exporter, const crypto::PublicKey& hub,
                        const crypto::PublicKey& signer, const crypto::PublicKey& other);

}  // namespace nb::sync::peer
