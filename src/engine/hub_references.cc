#include "engine/hub_references.h"

#include <unordered_map>
#include <unordered_set>

#include "apps/files/file_content.h"
#include "apps/files/files_reading.h"
#include "apps/payload.h"

namespace nb::engine {
namespace {

using apps::files::ContentRef;

struct ManifestInfo {
  std::vector<apps::files::ManifestChunk> chunks;
  uint64_t total = 0;
};

// Opens a manifest block with its file key. nullopt (and a line in `why`)
// when it cannot be read; a missing or corrupt block is the reachability
// check's to report, so that only says the chunks stay unknown.
std::optional<ManifestInfo> OpenManifest(store::Store& store, const crypto::SymmetricKey& fek,
                                         const Hash256& hash, std::string* why) {
  auto block = store.GetBlock(hash);
  if (!block.ok()) {
    *why = "manifest " + hash.Hex() + " is not readable here, so its chunks are unknown";
    return std::nullopt;
  }
  auto plain = crypto::AesGcmDecrypt(fek, *block);
  if (!plain.ok()) {
    *why = "manifest " + hash.Hex() + " does not decrypt with its file key";
    return std::nullopt;
  }
  ManifestInfo info;
  auto chunks = apps::files::ParseManifest(AsChars(*plain), &info.total);
  if (!chunks.ok()) {
    *why = "manifest " + hash.Hex() + ": " + chunks.error().message;
    return std::nullopt;
  }
  info.chunks = std::move(*chunks);
  return info;
}

}  // namespace

std::set<Hash256> HubReferences::AllBlocks() const {
  std::set<Hash256> all = direct_refs;
  all.insert(chunks.begin(), chunks.end());
  return all;
}

Result<HubReferences> CollectHubReferences(store::Store& store, const std::string& hub_id,
                                           const std::vector<log::ValidEvent>& valid,
                                           const hub::HubKeys* keys) {
  HubReferences out;
  out.hub_id = hub_id;
  std::unordered_set<Hash256> event_hashes;
  for (const auto& event : valid) event_hashes.insert(event.hash);
  out.valid_events = event_hashes.size();
  for (const auto& event : valid) {
    for (const auto& ref : event.envelope.block_refs) {
      if (!event_hashes.count(ref)) out.direct_refs.insert(ref);
    }
  }
  if (keys == nullptr) {
    out.incomplete.push_back("the hub's secret is not known here");
    return out;
  }
  out.key_known = true;

  std::vector<apps::files::DecodedEvent> decoded;
  std::unordered_set<Hash256> seen;
  std::map<Hash256, std::optional<ManifestInfo>> manifests;
  size_t undecryptable = 0, unreadable = 0;
  // Uses are recorded with the version; live paths are known after replay.
  struct PendingUse {
    Hash256 block;
    BlockUse use;
  };
  std::vector<PendingUse> pending;
  for (const auto& event : valid) {
    if (!seen.insert(event.hash).second) continue;
    auto payload = keys->OpenPayload(event.envelope.ciphertext);
    if (!payload.ok()) {
      ++undecryptable;
      ++out.events_by_kind["(cannot decrypt)"];
      continue;
    }
    auto d = apps::files::DecodeEvent(event.hash, event.envelope.block_refs, *payload);
    if (!d) {
      ++unreadable;
      ++out.events_by_kind["(unreadable payload)"];
      continue;
    }
    if (d->files) {
      ++out.events_by_kind[apps::files::FileOpName(d->files->op)];
      const auto& f = *d->files;
      if (f.op == apps::files::FileOp::kCreateFile && f.usable && f.content) {
        ++out.versions;
        BlockUse use{f.path, event.hash, ""};
        pending.push_back({f.content->hash, use});
        if (f.content->kind == ContentRef::Kind::kManifest) {
          auto it = manifests.find(f.content->hash);
          if (it == manifests.end()) {
            std::string why;
            auto fek = apps::files::UnwrapFileKey(keys->symmetric_key(), f.wrapped_key);
            std::optional<ManifestInfo> info;
            bool present = store.HasBlock(f.content->hash);
            if (!fek.ok()) {
              why = "the file key of " + f.path + " does not unwrap";
            } else {
              info = OpenManifest(store, *fek, f.content->hash, &why);
            }
            if (!info) {
              out.incomplete.push_back(why);
              if (present) out.unreadable_content.push_back(why + " (" + f.path + ")");
            }
            it = manifests.emplace(f.content->hash, std::move(info)).first;
          }
          if (it->second) {
            for (const auto& chunk : it->second->chunks) {
              out.chunks.insert(chunk.hash);
              pending.push_back({chunk.hash, use});
            }
          }
        }
      }
    } else {
      auto summary = apps::SummarizePayload(d->app_payload);
      std::string kind = summary ? summary->type : "(unknown)";
      if (summary && !summary->protocol.empty()) kind += " " + summary->protocol;
      ++out.events_by_kind[kind];
    }
    decoded.push_back(std::move(*d));
  }
  if (undecryptable > 0) {
    out.incomplete.push_back(std::to_string(undecryptable) +
                             " event(s) cannot be decrypted with the hub's key");
  }
  if (unreadable > 0) {
    out.incomplete.push_back(std::to_string(unreadable) + " event(s) have an unreadable payload");
  }
  out.chunks_complete = out.incomplete.empty();

  auto reading = apps::files::FilesReading::Replay(std::move(decoded));
  std::unordered_map<Hash256, std::string> live_path;
  for (const auto& [path, entry] : reading.files()) {
    live_path[entry.origin_event] = path;
    ++out.live_files;
    if (entry.content.kind == ContentRef::Kind::kSingle) {
      auto size = store.BlockSize(entry.content.hash);
      if (size.ok() && *size >= crypto::kGcmOverhead) {
        out.live_bytes += *size - crypto::kGcmOverhead;
      } else {
        ++out.live_size_unknown;
      }
    } else {
      auto it = manifests.find(entry.content.hash);
      if (it != manifests.end() && it->second) {
        out.live_bytes += it->second->total;
      } else {
        ++out.live_size_unknown;
      }
    }
  }
  for (auto& p : pending) {
    if (auto it = live_path.find(p.use.version); it != live_path.end())
      p.use.live_path = it->second;
    auto& uses = out.uses[p.block];
    bool duplicate = std::any_of(uses.begin(), uses.end(),
                                 [&](const BlockUse& u) { return u.version == p.use.version; });
    if (!duplicate) uses.push_back(std::move(p.use));
  }
  return out;
}

}  // namespace nb::engine
