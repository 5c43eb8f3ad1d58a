#include "engine/verify.h"

#include <algorithm>
#include <mutex>

#include "base/parallel.h"
#include "hub/home.h"
#include "hub/keyring.h"
#include "log/hub_log.h"

namespace nb::engine {
namespace {

bool InQuarantine(store::Store& store, const Hash256& hash) {
  return std::any_of(
      store.roots().begin(), store.roots().end(),
      [&](const store::StorageRoot& root) { return root.HasQuarantinedBlock(hash); });
}

}  // namespace

Result<VerifyReport> VerifyStore(store::Store& store, const VerifyOptions& options) {
  VerifyReport report;
  std::mutex mu;
  // Valid events per channel, over every root (an event may be in several).
  std::map<std::string, std::vector<log::ValidEvent>> valid;
  auto record = [&](const Status& status, size_t* ok_count) {
    std::lock_guard<std::mutex> lock(mu);
    if (status.ok()) {
      ++*ok_count;
    } else {
      report.problems.push_back(status.error().message);
    }
  };
  // Every channel's event files are listed first, so that progress knows
  // how many there are to verify.
  struct Listing {
    store::StorageRoot* root;
    std::string channel;
    crypto::PublicKey key;
    std::vector<crypto::Hash256> hashes;
  };
  std::vector<Listing> listings;
  uint64_t total_events = 0;
  for (auto& root : store.roots()) {
    report.temps_reaped += root.ReapStaleTemps();
    NB_ASSIGN_OR_RETURN(auto channels, root.ListChannels());
    for (const auto& channel : channels) {
      auto key = crypto::PublicKey::FromHex(channel);
      if (!key.ok()) {
        report.problems.push_back("channel " + channel + " is not a valid public key");
        continue;
      }
      NB_ASSIGN_OR_RETURN(auto hashes, root.ListEvents(channel));
      total_events += hashes.size();
      listings.push_back(Listing{&root, channel, std::move(*key), std::move(hashes)});
    }
  }
  ProgressObserver* progress = options.progress;
  if (progress != nullptr) progress->Begin(0, total_events);
  for (const auto& listing : listings) {
    store::StorageRoot& root = *listing.root;
    const std::string& channel = listing.channel;
    const auto& hashes = listing.hashes;
    log::HubLog log(&store, listing.key);
    auto& events = valid[channel];
    ParallelFor(hashes.size(), 0, [&](size_t i) {
      if (progress != nullptr) progress->AddFiles(1);
      auto bytes = root.ReadEventFile(channel, hashes[i]);
      if (!bytes.ok()) return record(bytes.error(), &report.events_ok);
      auto event = log.ValidateAt(root, hashes[i], *bytes);
      if (!event.ok()) return record(event.error(), &report.events_ok);
      record(Status::Ok(), &report.events_ok);
      std::lock_guard<std::mutex> lock(mu);
      events.push_back(std::move(*event));
    });
  }
  if (progress != nullptr) progress->End();
  listings.clear();
  for (auto& root : store.roots()) {
    std::vector<crypto::Hash256> blocks;
    NB_RETURN_IF_ERROR(root.ForEachBlock([&](const crypto::Hash256& h) { blocks.push_back(h); }));
    ParallelFor(blocks.size(), 0,
                [&](size_t i) { record(root.VerifyBlock(blocks[i]), &report.blocks_ok); });
  }

  // Reachability, hub by hub. Corrupt blocks are in quarantine by now, so
  // "present" means "present and hashes to its name".
  for (auto& [channel, events] : valid) {
    auto key = options.keys.find(channel);
    NB_ASSIGN_OR_RETURN(HubReferences refs,
                        CollectHubReferences(store, channel, events,
                                             key == options.keys.end() ? nullptr : &key->second));
    HubCheck check;
    check.hub_id = channel;
    check.valid_events = refs.valid_events;
    check.chunks_checked = refs.chunks_complete;
    check.notes = refs.incomplete;
    std::set<Hash256> all = refs.AllBlocks();
    check.referenced_blocks = all.size();
    for (const auto& hash : all) {
      if (store.HasBlock(hash)) continue;
      BrokenBlock broken{hash, channel, InQuarantine(store, hash), {}};
      if (auto uses = refs.uses.find(hash); uses != refs.uses.end()) broken.breaks = uses->second;
      report.broken.push_back(std::move(broken));
    }
    // A manifest that is there but cannot be opened breaks its file too.
    for (const auto& why : refs.unreadable_content) {
      report.problems.push_back("hub " + channel.substr(0, 16) + "...: " + why);
    }
    report.hubs.push_back(std::move(check));
    report.references.push_back(std::move(refs));
  }
  store.TakeIncidents();  // already in problems
  return report;
}

std::map<std::string, hub::HubKeys> KnownKeys(store::Store& store,
                                              const std::vector<std::string>& secrets) {
  std::map<std::string, hub::HubKeys> keys;
  for (const auto& secret : secrets) {
    auto derived = hub::HubKeys::FromSecret(secret);
    if (derived.ok()) keys.emplace(derived->id(), std::move(*derived));
  }
  auto channels = store.ListChannels();
  auto keyring = hub::Keyring::Load(hub::HomeDir());
  if (!channels.ok() || !keyring.ok()) return keys;
  // Derive only what this store needs: each derivation costs ~50 ms.
  for (const auto& channel : *channels) {
    auto it = keyring->secrets().find(channel);
    if (it == keyring->secrets().end() || keys.count(channel)) continue;
    auto derived = hub::HubKeys::FromSecret(it->second);
    if (derived.ok() && derived->id() == channel) keys.emplace(channel, std::move(*derived));
  }
  return keys;
}

}  // namespace nb::engine
