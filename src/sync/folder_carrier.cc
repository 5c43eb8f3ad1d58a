#include "sync/folder_carrier.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "base/parallel.h"
#include "crypto/sha256.h"
#include "log/event.h"
#include "store/batch_publisher.h"
#include "sync/folder_memory.h"

namespace nb::sync {
namespace fs = std::filesystem;
namespace {

using crypto::Hash256;

// Commit staged blocks every so often, so a long run that is interrupted
// keeps most of what it copied.
constexpr uint64_t kCommitBytes = uint64_t{256} << 20;
constexpr size_t kCommitFiles = 4096;

// A validated event read this run.
struct ReadEvent {
  Hash256 hash;
  Bytes file;
  std::vector<Hash256> refs;
  Bytes ciphertext;
};

// Reads and validates `hashes` of one hub from any root of `side`. A file
// that fails validation is moved to its root's quarantine and reported; an
// I/O error is reported and the file left alone.
std::vector<std::optional<ReadEvent>> ReadValidEvents(store::Store& side, const std::string& hub_id,
                                                      const crypto::PublicKey& channel_key,
                                                      const std::vector<Hash256>& hashes,
                                                      unsigned threads,
                                                      std::vector<std::string>* rejected) {
  std::mutex mu;
  std::vector<std::optional<ReadEvent>> out(hashes.size());
  ParallelFor(hashes.size(), threads, [&](size_t i) {
    std::vector<std::string> problems;
    for (auto& root : side.roots()) {
      auto bytes = root.ReadEventFile(hub_id, hashes[i]);
      std::optional<Error> bad;
      if (!bytes.ok()) {
        if (bytes.error().code == ErrorCode::kNotFound) continue;
        if (bytes.error().code != ErrorCode::kCorrupt) {
          problems.push_back(bytes.error().message + " (not copied)");
          continue;
        }
        bad = bytes.error();
      } else {
        auto event = log::ValidateEventFile(channel_key, hashes[i], *bytes);
        if (event.ok()) {
          out[i] = ReadEvent{hashes[i], std::move(*bytes), event->envelope.block_refs,
                             std::move(event->envelope.ciphertext)};
          break;
        }
        bad = event.error();
      }
      fs::path path = root.event_path(hub_id, hashes[i]);
      auto moved = root.Quarantine(path, bad->message);
      problems.push_back("event " + path.string() + ": " + bad->message + "; " +
                         (moved.ok() ? "moved to " + moved->string() : moved.error().message));
    }
    if (!problems.empty()) {
      std::lock_guard<std::mutex> lock(mu);
      rejected->insert(rejected->end(), problems.begin(), problems.end());
    }
  });
  return out;
}

// The ciphertext of an event already known, read again from either side
// (validated again: the file may have changed since it was first read).
std::optional<Bytes> RereadCiphertext(store::Store& a, store::Store& b, const std::string& hub_id,
                                      const crypto::PublicKey& channel_key, const Hash256& hash) {
  for (store::Store* side : {&a, &b}) {
    for (auto& root : side->roots()) {
      auto bytes = root.ReadEventFile(hub_id, hash);
      if (!bytes.ok()) continue;
      auto event = log::ValidateEventFile(channel_key, hash, *bytes);
      if (event.ok()) return std::move(event->envelope.ciphertext);
    }
  }
  return std::nullopt;
}

Result<std::unordered_set<Hash256>> ListBlocks(store::Store& side) {
  std::unordered_set<Hash256> out;
  for (auto& root : side.roots()) {
    NB_RETURN_IF_ERROR(root.ForEachBlock([&](const Hash256& h) { out.insert(h); }));
  }
  return out;
}

// Replaces a temp file's name in a message with the file it was to become:
// people know blocks/<hash>.bin, not .tmp-1234-....
std::string NameTheRealFile(std::string message, const fs::path& dir, const std::string& name) {
  size_t temp = message.find(store::kTempPrefix);
  if (temp == std::string::npos) return message;
  size_t start = message.rfind(' ', temp);
  start = start == std::string::npos ? 0 : start + 1;
  size_t end = message.find(": ", temp);
  if (end == std::string::npos) end = message.size();
  return message.replace(start, end - start, (dir / name).string());
}

// The directories a sync lists, both sides (sync/folder_memory.h): each
// root's blocks/ and channels/, then each carried hub's channel directory.
std::vector<fs::path> RootDirs(store::Store& local, store::Store& remote) {
  std::vector<fs::path> dirs;
  for (store::Store* side : {&local, &remote}) {
    for (auto& root : side->roots()) {
      dirs.push_back(root.blocks_dir());
      dirs.push_back(root.channels_dir());
    }
  }
  return dirs;
}

void AddHubDirs(store::Store& local, store::Store& remote, const std::vector<std::string>& hubs,
                std::vector<fs::path>* dirs) {
  for (store::Store* side : {&local, &remote}) {
    for (auto& root : side->roots()) {
      for (const auto& hub : hubs) dirs->push_back(root.channel_dir(hub));
    }
  }
}

// Everything besides the directories that decides what a run does.
std::string MemoryKey(const fs::path& folder, const FolderSyncOptions& options,
                      const std::vector<std::string>& hubs) {
  std::string key = folder.string() + "\npush=" + (options.push ? "1" : "0") +
                    " pull=" + (options.pull ? "1" : "0") +
                    " all=" + (options.all_hubs ? "1" : "0") + "\n";
  for (const auto& hub : hubs) {
    key += hub + (options.hub_keys.count(hub) ? " key\n" : " courier\n");
  }
  return key;
}

Result<std::vector<std::string>> HubsToCarry(store::Store& local, store::Store& remote,
                                             const FolderSyncOptions& options) {
  std::vector<std::string> hubs = options.hub_ids;
  if (options.all_hubs) {
    for (store::Store* side : {&local, &remote}) {
      NB_ASSIGN_OR_RETURN(auto listed, side->ListChannels());
      hubs.insert(hubs.end(), listed.begin(), listed.end());
    }
  }
  std::sort(hubs.begin(), hubs.end());
  hubs.erase(std::unique(hubs.begin(), hubs.end()), hubs.end());
  return hubs;
}

Result<std::vector<DirStamp>> StampAll(const std::vector<fs::path>& dirs) {
  std::vector<DirStamp> stamps;
  for (const auto& dir : dirs) {
    NB_ASSIGN_OR_RETURN(DirStamp stamp, StampDirectory(dir));
    stamps.push_back(std::move(stamp));
  }
  return stamps;
}

}  // namespace

EventRefsCache& CarryContext::RefsOf(const std::string& hub_id) {
  auto it = refs.find(hub_id);
  if (it != refs.end()) return it->second;
  EventRefsCache cache =
      refs_dir.empty() ? EventRefsCache() : EventRefsCache::Load(refs_dir, hub_id);
  return refs.emplace(hub_id, std::move(cache)).first->second;
}

Result<const std::vector<Hash256>*> CarryContext::EventsOf(store::Store& side,
                                                           const std::string& hub_id) {
  auto& events = listings[&side].events;
  auto it = events.find(hub_id);
  if (it == events.end()) {
    NB_ASSIGN_OR_RETURN(auto listed, side.ListEvents(hub_id));
    it = events.emplace(hub_id, std::move(listed)).first;
  }
  return &it->second;
}

Result<std::unordered_set<Hash256>*> CarryContext::BlocksOf(store::Store& side) {
  auto& blocks = listings[&side].blocks;
  if (!blocks) {
    NB_ASSIGN_OR_RETURN(auto listed, ListBlocks(side));
    blocks = std::move(listed);
  }
  return &*blocks;
}

Status CarryContext::SaveRefs() {
  for (auto& [hub_id, cache] : refs) NB_RETURN_IF_ERROR(cache.Save());
  return Status::Ok();
}

Result<CarryStats> Carry(store::Store& from, store::Store& to,
                         const std::vector<std::string>& hub_ids,
                         const std::map<std::string, crypto::SymmetricKey>& hub_keys,
                         unsigned threads, const std::function<void(uint64_t)>& progress,
                         std::vector<std::string>* rejected, std::vector<std::string>* hubs_changed,
                         CarryContext* context) {
  CarryStats stats;
  std::mutex mu;
  std::atomic<uint64_t> copied_bytes{0};
  // Blocks named by events the destination already holds, and by events
  // about to be copied.
  std::unordered_set<Hash256> needed_by_present, needed_by_new;
  bool carry_every_block = false;
  std::map<std::string, std::vector<ReadEvent>> pending;
  // Join the destination's writers before deciding which blocks it already
  // has: a gc holding the exclusive lock then cannot remove one of them
  // between that decision and the events that rely on it.
  to.primary().BeginWriting();

  for (const auto& hub_id : hub_ids) {
    NB_ASSIGN_OR_RETURN(const auto* source_listing, context->EventsOf(from, hub_id));
    NB_ASSIGN_OR_RETURN(const auto* target_listing, context->EventsOf(to, hub_id));
    const std::vector<Hash256>& source_events = *source_listing;
    const std::vector<Hash256>& target_events = *target_listing;
    if (source_events.empty()) continue;  // nothing here can help the destination
    auto channel_key = crypto::PublicKey::FromHex(hub_id);
    if (!channel_key.ok()) {
      rejected->push_back("channel " + hub_id + " is not a valid hub id; skipped");
      continue;
    }
    EventRefsCache& cache = context->RefsOf(hub_id);
    std::unordered_map<Hash256, const Bytes*> ciphertexts;  // events read this run

    // Events the destination lacks: read and validated on every core.
    std::vector<Hash256> missing;
    std::set_difference(source_events.begin(), source_events.end(), target_events.begin(),
                        target_events.end(), std::back_inserter(missing));
    auto& list = pending[hub_id];
    for (auto& event : ReadValidEvents(from, hub_id, *channel_key, missing, threads, rejected)) {
      if (event) list.push_back(std::move(*event));
    }
    // Events at the destination whose references are not known yet.
    std::vector<Hash256> unknown;
    for (const auto& hash : target_events) {
      if (cache.Find(hash) == nullptr) unknown.push_back(hash);
    }
    std::vector<ReadEvent> present_read;
    for (auto& event : ReadValidEvents(to, hub_id, *channel_key, unknown, threads, rejected)) {
      if (event) present_read.push_back(std::move(*event));
    }
    for (auto* group : {&list, &present_read}) {
      for (const auto& event : *group) {
        if (cache.Find(event.hash) == nullptr) cache.Put(event.hash, EventRefs{event.refs, false});
        ciphertexts[event.hash] = &event.ciphertext;
      }
    }

    // Chunks inside manifests, for events not yet expanded.
    auto key = hub_keys.find(hub_id);
    std::vector<Hash256> present;  // valid events at the destination
    for (const auto& hash : target_events) {
      if (cache.Find(hash) != nullptr) present.push_back(hash);
    }
    if (key != hub_keys.end()) {
      std::vector<Hash256> to_expand;
      for (const auto* group : {&present}) {
        for (const auto& hash : *group) {
          if (!cache.Find(hash)->expanded) to_expand.push_back(hash);
        }
      }
      for (const auto& event : list) {
        if (!cache.Find(event.hash)->expanded) to_expand.push_back(event.hash);
      }
      std::vector<std::optional<std::vector<Hash256>>> chunks(to_expand.size());
      ParallelFor(to_expand.size(), threads, [&](size_t i) {
        const Hash256& hash = to_expand[i];
        const EventRefs* refs = cache.Find(hash);
        auto known = ciphertexts.find(hash);
        std::optional<Bytes> reread;
        if (known == ciphertexts.end()) {
          reread = RereadCiphertext(to, from, hub_id, *channel_key, hash);
          if (!reread) return;
        }
        const Bytes& ciphertext = reread ? *reread : *known->second;
        chunks[i] = ManifestChunks(to, from, key->second, hash, refs->refs, ciphertext);
      });
      for (size_t i = 0; i < to_expand.size(); ++i) {
        if (!chunks[i]) continue;
        EventRefs* refs = cache.FindMutable(to_expand[i]);
        refs->refs.insert(refs->refs.end(), chunks[i]->begin(), chunks[i]->end());
        refs->expanded = true;
        cache.Touch();
      }
    } else {
      carry_every_block = true;
    }

    // Refs that name events (a parent) are not blocks.
    std::unordered_set<Hash256> events(source_events.begin(), source_events.end());
    events.insert(target_events.begin(), target_events.end());
    for (const auto& hash : present) {
      for (const auto& ref : cache.Find(hash)->refs) {
        if (!events.count(ref)) needed_by_present.insert(ref);
      }
    }
    for (const auto& event : list) {
      for (const auto& ref : cache.Find(event.hash)->refs) {
        if (!events.count(ref)) needed_by_new.insert(ref);
      }
    }
  }

  // Which blocks to copy: those needed that the destination lacks and the
  // source holds (a listing per side, not a stat per block).
  std::vector<Hash256> blocks;
  if (!needed_by_present.empty() || !needed_by_new.empty() || carry_every_block) {
    NB_ASSIGN_OR_RETURN(auto* target_listing, context->BlocksOf(to));
    NB_ASSIGN_OR_RETURN(auto* source_listing, context->BlocksOf(from));
    const auto& target_blocks = *target_listing;
    const auto& source_blocks = *source_listing;
    std::unordered_set<Hash256> chosen;
    for (const auto* needed : {&needed_by_present, &needed_by_new}) {
      for (const auto& hash : *needed) {
        if (!target_blocks.count(hash) && source_blocks.count(hash)) chosen.insert(hash);
      }
    }
    if (carry_every_block) {
      for (const auto& hash : source_blocks) {
        if (!target_blocks.count(hash)) chosen.insert(hash);
      }
    }
    blocks.assign(chosen.begin(), chosen.end());
    std::sort(blocks.begin(), blocks.end());
  }
  bool any_event = std::any_of(pending.begin(), pending.end(),
                               [](const auto& entry) { return !entry.second.empty(); });
  if (blocks.empty() && !any_event) return stats;

  // Blocks first, verified on read, committed in slices.
  store::BatchPublisher batch(&to.primary());
  std::optional<Error> failure;
  std::vector<Hash256> landed, corrupt_at_source;  // for the listings
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
      // Verified on the way, large blocks streamed (memory stays flat); a
      // corrupt copy is quarantined at the source and nothing is staged.
      auto copy = batch.StageBlockCopy(from, hash);
      std::lock_guard<std::mutex> lock(mu);
      if (!copy.ok()) {
        if (!failure) {
          failure = copy.error();
          failure->message =
              NameTheRealFile(failure->message, to.primary().blocks_dir(), hash.Hex() + ".bin");
        }
      } else if (copy->unreadable) {
        if (copy->unreadable->code == ErrorCode::kCorrupt) {
          rejected->push_back(copy->unreadable->message + " (not copied)");
          corrupt_at_source.push_back(hash);
        }
      } else if (landed.push_back(hash); copy->staged) {
        ++stats.blocks;
        if (needed_by_present.count(hash) && !needed_by_new.count(hash)) ++stats.repaired;
        stats.bytes += copy->bytes;
        copied_bytes += copy->bytes;
        if (progress) progress(copied_bytes);
      }
    });
    if (failure) break;
    auto committed = batch.Commit();
    if (!committed.ok()) {
      return MakeError(
          committed.error().code,
          NameTheRealFile(committed.error().message, to.primary().blocks_dir(), "<block>.bin"));
    }
    if (auto& listed = context->listings[&to].blocks) listed->insert(landed.begin(), landed.end());
    landed.clear();
    next = end;
  }
  if (auto& listed = context->listings[&from].blocks) {
    for (const auto& hash : corrupt_at_source) listed->erase(hash);
  }
  if (failure) return *failure;
  if (context->hooks.before_events) NB_RETURN_IF_ERROR(context->hooks.before_events());

  // Then the events.
  for (auto& [hub_id, events] : pending) {
    for (const auto& event : events) {
      Status staged = batch.StageEvent(hub_id, event.hash, event.file);
      if (!staged.ok()) {
        return MakeError(staged.error().code,
                         NameTheRealFile(staged.error().message, to.primary().channel_dir(hub_id),
                                         event.hash.Hex() + ".bin"));
      }
      ++stats.events;
      stats.bytes += event.file.size();
    }
    if (!events.empty() && hubs_changed != nullptr) hubs_changed->push_back(hub_id);
  }
  auto committed = batch.Commit();
  if (!committed.ok()) {
    return MakeError(
        committed.error().code,
        NameTheRealFile(committed.error().message, to.primary().channels_dir(), "<event>.bin"));
  }
  for (const auto& [hub_id, events] : pending) {
    auto& listed = context->listings[&to].events[hub_id];
    for (const auto& event : events) listed.push_back(event.hash);
    std::sort(listed.begin(), listed.end());
    listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
  }
  if (progress) progress(copied_bytes);
  return stats;
}

Result<CarryStats> Carry(store::Store& from, store::Store& to,
                         const std::vector<std::string>& hub_ids,
                         const std::map<std::string, crypto::SymmetricKey>& hub_keys,
                         unsigned threads, const std::function<void(uint64_t)>& progress,
                         std::vector<std::string>* rejected,
                         std::vector<std::string>* hubs_changed) {
  CarryContext context;
  context.refs_dir = from.primary().state_dir() / "sync";
  auto stats =
      Carry(from, to, hub_ids, hub_keys, threads, progress, rejected, hubs_changed, &context);
  (void)context.SaveRefs();  // a cache: losing it costs time, never data
  return stats;
}

std::string ProblemSummary(const FolderSyncReport& report, const fs::path& folder) {
  const FolderJunk& junk = report.junk;
  std::vector<std::string> parts;
  auto add = [&](size_t n, const std::string& what) {
    if (n > 0) parts.push_back(std::to_string(n) + " " + what);
  };
  add(report.rejected.size(), "corrupt or forged file(s) refused and quarantined");
  add(junk.misnamed, "misnamed file(s) quarantined");
  add(junk.links, "symbolic link(s) quarantined, not followed");
  add(junk.stale_temps, "leftover temp file(s) removed");
  if (parts.empty()) return "";
  std::string line;
  for (size_t i = 0; i < parts.size(); ++i) line += (i ? ", " : "") + parts[i];
  return line + " (--json lists each; reasons in " +
         (folder / ".nearbytes" / "quarantine" / "reasons.log").string() + ")";
}

Result<FolderSyncReport> SyncFolder(store::Store& local, const fs::path& folder,
                                    const FolderSyncOptions& options) {
  NB_RETURN_IF_ERROR(CheckFolderPlacement(local, folder, options.create));
  NB_ASSIGN_OR_RETURN(auto remote, store::Store::Open({folder}, /*create_primary=*/true));
  FolderSyncReport report;

  // The remembered listing (sync/folder_memory.h). Every stamp is taken
  // before the directory is listed: the roots' directories first (a hub
  // directory that appears while the hubs are chosen changes channels/),
  // then the hubs' own.
  const int64_t started =
      options.hooks.wall_clock_ns ? options.hooks.wall_clock_ns() : WallClockNs();
  std::vector<fs::path> dirs = RootDirs(local, *remote);
  auto root_stamps = StampAll(dirs);
  NB_ASSIGN_OR_RETURN(std::vector<std::string> hubs, HubsToCarry(local, *remote, options));
  AddHubDirs(local, *remote, hubs, &dirs);
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(fs::absolute(folder), ec);
  if (ec) canonical = fs::absolute(folder).lexically_normal();
  FolderMemory memory(
      local.primary().state_dir() / "sync" /
          ("folder-" + crypto::Sha256(AsBytes(canonical.string())).Hex().substr(0, 32)),
      MemoryKey(canonical, options, hubs), dirs);
  auto before = memory.Stamp();
  bool steady = root_stamps.ok() && before.ok() &&
                std::equal(root_stamps->begin(), root_stamps->end(), before->begin());
  if (steady && memory.Matches(*before)) {
    // Nothing changed on either side; the scan's link checks are cheap
    // and still run (a directory swapped for a link changes no stamp of
    // ours if .nearbytes/ is the one swapped).
    NB_RETURN_IF_ERROR(CheckFolderDirectories(remote->primary()));
    report.hubs_carried = hubs;
    report.remembered = true;
    return report;
  }

  FolderListing listed;
  NB_ASSIGN_OR_RETURN(report.junk, ScanFolderJunk(remote->primary(), &listed));
  if (options.all_hubs) {
    // The scan may have moved a bad channel directory away.
    NB_ASSIGN_OR_RETURN(auto scanned, HubsToCarry(local, *remote, options));
    if (scanned != hubs) steady = false;
    hubs = std::move(scanned);
  }
  report.hubs_carried = hubs;

  CarryContext context;
  context.refs_dir = local.primary().state_dir() / "sync";
  context.hooks = options.hooks;
  // The scan has just listed the folder: no need to list it again.
  auto& remote_listing = context.listings[remote.get()];
  remote_listing.blocks = std::move(listed.blocks);
  for (const auto& hub_id : hubs) remote_listing.events[hub_id] = std::move(listed.events[hub_id]);
  auto run = [&]() -> Status {
    uint64_t pushed_so_far = 0;
    if (options.push) {
      NB_ASSIGN_OR_RETURN(
          report.pushed, Carry(local, *remote, hubs, options.hub_keys, options.threads,
                               options.progress, &report.rejected, &report.hubs_changed, &context));
      pushed_so_far = report.pushed.bytes;
    }
    if (options.pull) {
      auto progress = options.progress;
      std::function<void(uint64_t)> offset_progress;
      if (progress) offset_progress = [=](uint64_t b) { progress(pushed_so_far + b); };
      NB_ASSIGN_OR_RETURN(report.pulled,
                          Carry(*remote, local, hubs, options.hub_keys, options.threads,
                                offset_progress, &report.rejected, &report.hubs_changed, &context));
    }
    return Status::Ok();
  };
  Status carried = run();
  (void)context.SaveRefs();  // a cache: losing it costs time, never data
  NB_RETURN_IF_ERROR(carried);
  // Corrupt copies met while reading (and quarantined) belong in the same
  // one-line report, once: most are already there as refused blocks.
  for (store::Store* side : {&local, remote.get()}) {
    for (auto& incident : side->TakeIncidents()) {
      bool known = std::any_of(report.rejected.begin(), report.rejected.end(),
                               [&](const std::string& r) { return r.starts_with(incident); });
      if (!known) report.rejected.push_back(std::move(incident));
    }
  }
  std::sort(report.hubs_changed.begin(), report.hubs_changed.end());
  report.hubs_changed.erase(std::unique(report.hubs_changed.begin(), report.hubs_changed.end()),
                            report.hubs_changed.end());
  // Remember a run that found both sides complete and clean; anything
  // else (a copy, a refusal, junk, a writer's temp file) lists next time.
  const FolderJunk& junk = report.junk;
  bool complete = steady && report.rejected.empty() && junk.misnamed == 0 && junk.links == 0 &&
                  junk.stale_temps == 0 && junk.temps_in_flight == 0 && report.pushed.events == 0 &&
                  report.pushed.blocks == 0 && report.pulled.events == 0 &&
                  report.pulled.blocks == 0;
  auto after = complete ? memory.Stamp() : Result<std::vector<DirStamp>>(std::vector<DirStamp>{});
  if (complete && after.ok()) {
    memory.RecordIfSettled(*before, *after, started);
  } else {
    memory.Forget();
  }
  return report;
}

}  // namespace nb::sync
