#include "sync/lan_announcement.h"

#include <algorithm>
#include <cstring>

#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "hub/hub.h"

namespace nb::sync {

namespace {

constexpr uint8_t kMagic[4] = {'N', 'B', 'L', 'A'};
constexpr std::string_view kLanKeyLabel = "nearbytes lan announcement v1";
constexpr size_t kKeyOffset = 5;
constexpr size_t kPortOffset = 38;
constexpr size_t kNonceOffset = 40;
constexpr size_t kCountOffset = 56;
constexpr size_t kTagsOffset = 57;

// A uniform index below `bound` from the system's randomness (for shuffling).
size_t RandomIndex(size_t bound) {
  uint64_t value = 0;
  crypto::RandomFill(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&value), sizeof(value)));
  // The bias of a plain modulo is below 2^-57 for bounds this small.
  return static_cast<size_t>(value % bound);
}

Bytes EncodeHeader(ByteSpan compressed_key, uint16_t sync_port, const LanNonce& nonce) {
  Bytes header(kLanHeaderSize);
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  header[4] = kLanVersion;
  std::copy(compressed_key.begin(), compressed_key.end(), header.begin() + kKeyOffset);
  header[kPortOffset] = static_cast<uint8_t>(sync_port >> 8);
  header[kPortOffset + 1] = static_cast<uint8_t>(sync_port & 0xff);
  std::copy(nonce.begin(), nonce.end(), header.begin() + kNonceOffset);
  return header;
}

}  // namespace

LanHubKey DeriveLanHubKey(const hub::HubKeys& hub) {
  return DeriveLanHubKey(hub.id(), hub.symmetric_key());
}

LanHubKey DeriveLanHubKey(std::string hub_id, const crypto::SymmetricKey& hub_key) {
  LanHubKey out;
  out.hub_id = std::move(hub_id);
  Bytes key = crypto::HkdfSha256(hub_key, {}, AsBytes(kLanKeyLabel), out.key.size());
  std::copy(key.begin(), key.end(), out.key.begin());
  return out;
}

Bytes LanAnnouncement::Header() const { return EncodeHeader(instance_key, sync_port, nonce); }

LanTag ComputeLanTag(const LanHubKey& hub, ByteSpan header) {
  Bytes mac = crypto::HmacSha256(hub.key, header);
  LanTag tag;
  std::copy_n(mac.begin(), tag.size(), tag.begin());
  return tag;
}

std::vector<Bytes> EncodeLanAnnouncements(ByteSpan compressed_key, uint16_t sync_port,
                                          std::span<const LanHubKey> hubs) {
  std::vector<Bytes> packets;
  if (compressed_key.size() != 33) return packets;
  for (size_t start = 0; start < hubs.size(); start += kLanMaxTags) {
    std::span<const LanHubKey> part =
        hubs.subspan(start, std::min(kLanMaxTags, hubs.size() - start));
    LanNonce nonce;
    crypto::RandomFill(nonce);
    Bytes header = EncodeHeader(compressed_key, sync_port, nonce);
    std::vector<LanTag> tags;
    for (const LanHubKey& hub : part) tags.push_back(ComputeLanTag(hub, header));
    // Random tags up to a multiple of kLanTagPadding: to a non-member they
    // look like any other tag, so only a rough hub count shows.
    while (tags.size() % kLanTagPadding != 0) {
      LanTag filler;
      crypto::RandomFill(filler);
      tags.push_back(filler);
    }
    // Fisher-Yates, so a tag's position says nothing either.
    for (size_t i = tags.size() - 1; i > 0; --i) std::swap(tags[i], tags[RandomIndex(i + 1)]);
    Bytes packet = std::move(header);
    packet.push_back(static_cast<uint8_t>(tags.size()));
    for (const LanTag& tag : tags) packet.insert(packet.end(), tag.begin(), tag.end());
    packets.push_back(std::move(packet));
  }
  return packets;
}

Result<LanAnnouncement> DecodeLanAnnouncement(ByteSpan packet) {
  if (packet.size() < kTagsOffset || std::memcmp(packet.data(), kMagic, sizeof(kMagic)) != 0) {
    return MakeError(ErrorCode::kCorrupt, "not a LAN announcement");
  }
  if (packet[4] != kLanVersion) {
    return MakeError(ErrorCode::kUnsupported,
                     "LAN announcement version " + std::to_string(packet[4]));
  }
  size_t count = packet[kCountOffset];
  if (count == 0 || count > kLanMaxTags) {
    return MakeError(ErrorCode::kCorrupt,
                     "LAN announcement with " + std::to_string(count) + " tags (1 to 64 allowed)");
  }
  if (packet.size() != kTagsOffset + count * kLanTagSize) {
    return MakeError(ErrorCode::kCorrupt, "LAN announcement of " + std::to_string(packet.size()) +
                                              " bytes does not hold " + std::to_string(count) +
                                              " tags");
  }
  LanAnnouncement out;
  out.instance_key.assign(packet.begin() + kKeyOffset, packet.begin() + kPortOffset);
  if (out.instance_key[0] != 0x02 && out.instance_key[0] != 0x03) {
    return MakeError(ErrorCode::kCorrupt, "LAN announcement key is not a compressed point");
  }
  out.sync_port = static_cast<uint16_t>((packet[kPortOffset] << 8) | packet[kPortOffset + 1]);
  if (out.sync_port == 0) return MakeError(ErrorCode::kCorrupt, "LAN announcement of port 0");
  std::copy_n(packet.begin() + kNonceOffset, kLanNonceSize, out.nonce.begin());
  out.tags.resize(count);
  for (size_t i = 0; i < count; ++i) {
    std::copy_n(packet.begin() + kTagsOffset + i * kLanTagSize, kLanTagSize, out.tags[i].begin());
  }
  return out;
}

std::vector<std::string> MatchLanAnnouncement(const LanAnnouncement& announcement,
                                              std::span<const LanHubKey> hubs) {
  std::vector<std::string> matched;
  Bytes header = announcement.Header();
  for (const LanHubKey& hub : hubs) {
    LanTag expected = ComputeLanTag(hub, header);
    bool found = false;
    // Every tag is compared, match or not, so timing says nothing about where.
    for (const LanTag& tag : announcement.tags) {
      found |= crypto::ConstantTimeEquals(expected, tag);
    }
    if (found) matched.push_back(hub.hub_id);
  }
  return matched;
}

}  // namespace nb::sync
