// LAN announcements: the bytes a node multicasts so that members of its hubs
// on the same link can find it, and nobody else learns which hubs it holds.
// Pure functions, no sockets (lan_discovery.h sends and receives them).
// The layout and its reasons are in docs/lan-discovery.md:
//
//   offset  size  field
//   0       4     magic "NBLA"
//   4       1     version (1)
//   5       33    sender's instance key, compressed P-256 point (02/03 || X)
//   38      2     sender's sync port, big-endian, not 0
//   40      16    nonce, fresh random bytes for every packet
//   56      1     tag count n, 1..64
//   57      16*n  tags
//
// The first 56 bytes are the "header". For each hub the sender holds, one tag
//   tag = HMAC-SHA256(K_lan, header)[0..16)
//   K_lan = HKDF-SHA256(ikm = hub symmetric key, salt = none,
//                       info = "nearbytes lan announcement v1", 32 bytes)
// The tag list is padded with random tags to a multiple of 4 and shuffled, so
// it shows neither which nor (exactly) how many hubs the sender holds.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/aead.h"

namespace nb::hub {
class HubKeys;
}

namespace nb::sync {

constexpr uint16_t kLanDefaultPort = 4442;
constexpr size_t kLanHeaderSize = 56;
constexpr size_t kLanNonceSize = 16;
constexpr size_t kLanTagSize = 16;
constexpr size_t kLanMaxTags = 64;
constexpr size_t kLanTagPadding = 4;
constexpr size_t kLanMaxPacketSize = kLanHeaderSize + 1 + kLanMaxTags * kLanTagSize;  // 1081
constexpr uint8_t kLanVersion = 1;

using LanTag = std::array<uint8_t, kLanTagSize>;
using LanNonce = std::array<uint8_t, kLanNonceSize>;

// What a hub contributes to announcements: its id (reported to the caller on
// a match, never sent) and the key its tags are made with.
struct LanHubKey {
  std::string hub_id;
  std::array<uint8_t, 32> key{};
};

LanHubKey DeriveLanHubKey(const hub::HubKeys& hub);
LanHubKey DeriveLanHubKey(std::string hub_id, const crypto::SymmetricKey& hub_key);

struct LanAnnouncement {
  Bytes instance_key;  // 33 bytes, compressed; not yet checked to be on the curve
  uint16_t sync_port = 0;
  LanNonce nonce{};
  std::vector<LanTag> tags;  // 1..kLanMaxTags

  // The 56 header bytes the tags are computed over.
  Bytes Header() const;
};

// Tag of `hub` for the announcement whose header is `header`.
LanTag ComputeLanTag(const LanHubKey& hub, ByteSpan header);

// Builds the packets that announce `hubs`: one per 64 hubs (after padding),
// each with its own nonce. Empty when `hubs` is empty: there is nothing to say.
// `compressed_key` must be 33 bytes.
std::vector<Bytes> EncodeLanAnnouncements(ByteSpan compressed_key, uint16_t sync_port,
                                          std::span<const LanHubKey> hubs);

// Parses a datagram from anyone. kCorrupt for a wrong magic, a wrong length, a
// count of 0 or above 64, a port of 0 or a key prefix other than 02/03;
// kUnsupported for another version. Never reads past `packet`.
Result<LanAnnouncement> DecodeLanAnnouncement(ByteSpan packet);

// The ids of the `hubs` whose tag the announcement carries (constant-time
// comparisons; one HMAC per hub, whatever the number of tags).
std::vector<std::string> MatchLanAnnouncement(const LanAnnouncement& announcement,
                                              std::span<const LanHubKey> hubs);

}  // namespace nb::sync
