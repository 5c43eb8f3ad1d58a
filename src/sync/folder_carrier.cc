#include "sync/folder_carrier.h"

#include <atomic>
#include <mutex>
#include <set>
#include <unordered_set>

#include "apps/files/file_content.h"
#include "apps/files/files_reading.h"
#include "base/parallel.h"
#include "log/event.h"
#include "store/batch_publisher.h"

namespace nb::sync {
namespace {

// Commit staged blocks every so often, so a long run that is interrupted
// keeps most of what it copied.
constexpr uint64_t kCommitBytes = uint64_t{256} << 20;
constexpr size_t kCommitFiles = 4096;

struct PendingEvent {
  crypto::Hash256 hash;
  Bytes file;
  std::vector<crypto::Hash256> refs;
  Bytes ciphertext;
};

// Chunks named inside the manifests of `events` (CREATE_FILE with a manifest).
void AddManifestChunks(store::Store& from, const crypto::SymmetricKey& hub_key,
                       const std::vector<PendingEvent>& events,
                       std::unordered_set<crypto::Hash256>* needed) {
  for (const auto& event : events) {
    auto payload = crypto::AesGcmDecrypt(hub_key, event.ciphertext);
    if (!payload.ok()) continue;
    auto decoded = apps::files::DecodeEvent(event.hash, event.refs, AsChars(*payload));
    if (!decoded || !decoded->files || !decoded->files->usable || !decoded->files->content ||
        decoded->files->content->kind != apps::files::ContentRef::Kind::kManifest) {
      continue;
    }
    auto fek = apps::files::UnwrapFileKey(hub_key, decoded->files->wrapped_key);
    if (!fek.ok()) continue;
    auto manifest_block = from.GetBlock(decoded->files->content->hash);
    if (!manifest_block.ok()) continue;
    auto manifest = crypto::AesGcmDecrypt(*fek, *manifest_block);
    if (!manifest.ok()) continue;
    auto chunks = apps::files::ParseManifest(AsChars(*manifest), nullptr);
    if (!chunks.ok()) continue;
    for (const auto& chunk : *chunks) needed->insert(chunk.hash);
  }
}

}  // namespace

Result<CarryStats> Carry(store::Store& from, store::Store& to,
                         const std::vector<std::string>& hub_ids,
                         const std::map<std::string, crypto::SymmetricKey>& hub_keys,
                         unsigned threads, const std::function<void(uint64_t)>& progress,
                         std::vector<std::string>* rejected,
                         std::vector<std::string>* hubs_changed) {
  CarryStats stats;
  std::mutex mu;
  std::atomic<uint64_t> copied_bytes{0};
  std::unordered_set<crypto::Hash256> needed_blocks;
  bool carry_every_block = false;
  std::map<std::string, std::vector<PendingEvent>> pending;

  for (const auto& hub_id : hub_ids) {
    NB_ASSIGN_OR_RETURN(auto source_events, from.ListEvents(hub_id));
    if (source_events.empty()) continue;
    NB_ASSIGN_OR_RETURN(auto target_events, to.ListEvents(hub_id));
    std::vector<crypto::Hash256> missing;
    std::set_difference(source_events.begin(), source_events.end(), target_events.begin(),
                        target_events.end(), std::back_inserter(missing));
    if (missing.empty()) continue;
    auto channel_key = crypto::PublicKey::FromHex(hub_id);
    if (!channel_key.ok()) {
      rejected->push_back("channel " + hub_id + " is not a valid hub id; skipped");
      continue;
    }
    // Read and validate the missing events on every core.
    std::vector<std::optional<PendingEvent>> valid(missing.size());
    ParallelFor(missing.size(), threads, [&](size_t i) {
      std::string problem;
      for (auto& root : from.roots()) {
        auto bytes = root.ReadEventFile(hub_id, missing[i]);
        if (!bytes.ok()) {
          if (bytes.error().code != ErrorCode::kNotFound) problem = bytes.error().message;
          continue;
        }
        auto event = log::ValidateEventFile(*channel_key, missing[i], *bytes);
        if (event.ok()) {
          valid[i] = PendingEvent{missing[i], std::move(*bytes), event->envelope.block_refs,
                                  std::move(event->envelope.ciphertext)};
          return;
        }
        problem = "event " + missing[i].Hex() + " in " + root.path().string() + ": " +
                  event.error().message;
      }
      if (!problem.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        rejected->push_back(problem + " (not copied)");
      }
    });
    std::set<crypto::Hash256> all_events(source_events.begin(), source_events.end());
    all_events.insert(target_events.begin(), target_events.end());
    auto& list = pending[hub_id];
    for (auto& event : valid) {
      if (!event) continue;
      for (const auto& ref : event->refs) {
        if (!all_events.count(ref)) needed_blocks.insert(ref);
      }
      list.push_back(std::move(*event));
    }
    auto key = hub_keys.find(hub_id);
    if (key != hub_keys.end()) {
      AddManifestChunks(from, key->second, list, &needed_blocks);
    } else {
      carry_every_block = true;
    }
  }
  if (pending.empty()) return stats;

  if (carry_every_block) {
    for (auto& root : from.roots()) {
      NB_RETURN_IF_ERROR(
          root.ForEachBlock([&](const crypto::Hash256& h) { needed_blocks.insert(h); }));
    }
  }
  std::vector<crypto::Hash256> blocks;
  for (const auto& hash : needed_blocks) {
    if (!to.HasBlock(hash) && from.HasBlock(hash)) blocks.push_back(hash);
  }
  std::sort(blocks.begin(), blocks.end());

  // Blocks first, verified on read, committed in slices.
  store::BatchPublisher batch(&to.primary());
  std::optional<Error> failure;
  size_t next = 0;
  while (next < blocks.size() && !failure) {
    size_t end = next;
    uint64_t slice_bytes = 0;
    while (end < blocks.size() && end - next < kCommitFiles && slice_bytes < kCommitBytes) {
      auto size = from.BlockSize(blocks[end]);
      slice_bytes += size.ok() ? *size : 0;
      ++end;
    }
    ParallelFor(end - next, threads, [&](size_t k) {
      const auto& hash = blocks[next + k];
      auto bytes = from.GetBlock(hash);  // verifies; a corrupt copy is quarantined at the source
      if (!bytes.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (bytes.error().code == ErrorCode::kCorrupt) {
          rejected->push_back(bytes.error().message + " (not copied)");
        }
        return;
      }
      auto staged = batch.StageBlock(hash, *bytes);
      std::lock_guard<std::mutex> lock(mu);
      if (!staged.ok()) {
        if (!failure) failure = staged.error();
      } else if (*staged) {
        ++stats.blocks;
        stats.bytes += bytes->size();
        copied_bytes += bytes->size();
        if (progress) progress(copied_bytes);
      }
    });
    if (failure) break;
    NB_RETURN_IF_ERROR(batch.Commit());
    next = end;
  }
  if (failure) return *failure;

  // Then the events.
  for (auto& [hub_id, events] : pending) {
    for (const auto& event : events) {
      NB_RETURN_IF_ERROR(batch.StageEvent(hub_id, event.hash, event.file));
      ++stats.events;
      stats.bytes += event.file.size();
    }
    if (!events.empty() && hubs_changed != nullptr) hubs_changed->push_back(hub_id);
  }
  NB_RETURN_IF_ERROR(batch.Commit());
  if (progress) progress(copied_bytes);
  return stats;
}

Result<FolderSyncReport> SyncFolder(store::Store& local, const std::filesystem::path& folder,
                                    const FolderSyncOptions& options) {
  NB_ASSIGN_OR_RETURN(auto remote, store::Store::Open({folder}, /*create_primary=*/true));
  if (std::filesystem::equivalent(remote->primary().path(), local.primary().path())) {
    return MakeError(ErrorCode::kInvalidArgument, "the folder is the local store itself");
  }
  FolderSyncReport report;
  std::vector<std::string> hubs = options.hub_ids;
  if (options.all_hubs) {
    NB_ASSIGN_OR_RETURN(auto local_hubs, local.ListChannels());
    NB_ASSIGN_OR_RETURN(auto remote_hubs, remote->ListChannels());
    hubs.insert(hubs.end(), local_hubs.begin(), local_hubs.end());
    hubs.insert(hubs.end(), remote_hubs.begin(), remote_hubs.end());
  }
  std::sort(hubs.begin(), hubs.end());
  hubs.erase(std::unique(hubs.begin(), hubs.end()), hubs.end());
  report.hubs_carried = hubs;

  uint64_t pushed_so_far = 0;
  if (options.push) {
    NB_ASSIGN_OR_RETURN(report.pushed,
                        Carry(local, *remote, hubs, options.hub_keys, options.threads,
                              options.progress, &report.rejected, &report.hubs_changed));
    pushed_so_far = report.pushed.bytes;
  }
  if (options.pull) {
    auto progress = options.progress;
    std::function<void(uint64_t)> offset_progress;
    if (progress) offset_progress = [=](uint64_t b) { progress(pushed_so_far + b); };
    NB_ASSIGN_OR_RETURN(report.pulled,
                        Carry(*remote, local, hubs, options.hub_keys, options.threads,
                              offset_progress, &report.rejected, &report.hubs_changed));
  }
  std::sort(report.hubs_changed.begin(), report.hubs_changed.end());
  report.hubs_changed.erase(std::unique(report.hubs_changed.begin(), report.hubs_changed.end()),
                            report.hubs_changed.end());
  return report;
}

}  // namespace nb::sync
