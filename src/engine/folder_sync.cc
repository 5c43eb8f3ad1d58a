#include "engine/folder_sync.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "hub/home.h"
#include "hub/hub.h"

namespace nb::engine {

namespace fs = std::filesystem;

Result<std::string> ResolveHubId(const std::string& wanted, const std::vector<std::string>& known) {
  std::vector<std::string> matches;
  for (const auto& id : known) {
    if (id.rfind(wanted, 0) == 0) matches.push_back(id);
  }
  // A hub both held and present in the store is known twice: one match.
  std::sort(matches.begin(), matches.end());
  matches.erase(std::unique(matches.begin(), matches.end()), matches.end());
  if (matches.size() == 1) return matches[0];
  if (store::IsHubId(wanted)) return wanted;
  if (matches.empty()) return MakeError(ErrorCode::kNotFound, "no hub matches --hub " + wanted);
  return MakeError(ErrorCode::kInvalidArgument, "--hub " + wanted + " matches several hubs");
}

Result<FolderSyncResult> SyncWithFolder(store::Store& local, const FolderSyncRequest& request,
                                        ProgressObserver* progress) {
  auto start = std::chrono::steady_clock::now();
  sync::FolderSyncOptions options;
  options.push = request.push;
  options.pull = request.pull;
  options.all_hubs = request.all;
  options.create = request.create;
  std::vector<std::string> known;
  for (const auto& [id, secret] : request.secrets) known.push_back(id);
  NB_ASSIGN_OR_RETURN(auto local_hubs, local.ListChannels());
  known.insert(known.end(), local_hubs.begin(), local_hubs.end());
  if (!request.hubs.empty()) {
    for (const auto& wanted : request.hubs) {
      NB_ASSIGN_OR_RETURN(std::string id, ResolveHubId(wanted, known));
      options.hub_ids.push_back(id);
    }
  } else if (!request.all) {
    for (const auto& [id, secret] : request.secrets) options.hub_ids.push_back(id);
    if (options.hub_ids.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "no hub to carry: this machine holds no secret (nearbytes hub create), "
                       "name one with --hub ID, or carry every hub with --all");
    }
  }

  // Hubs we can read: their keys find chunk blocks, and their readings say
  // what the sync brought.
  std::vector<std::unique_ptr<hub::Hub>> readable;
  for (const auto& [id, secret] : request.secrets) {
    bool carried = request.all || std::find(options.hub_ids.begin(), options.hub_ids.end(), id) !=
                                      options.hub_ids.end();
    if (!carried) continue;
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
    options.hub_keys[id] = keys.symmetric_key();
    auto opened = hub::Hub::Open(&local, std::move(keys), /*create=*/true);
    if (opened.ok()) readable.push_back(std::move(*opened));
  }
  if (progress != nullptr) {
    progress->Begin(0, 0);
    options.progress = [progress](uint64_t bytes) { progress->SetBytes(bytes); };
  }
  auto report = sync::SyncFolder(local, request.folder, options);
  if (progress != nullptr) progress->End();
  if (!report.ok()) return report.error();

  FolderSyncResult result;
  result.report = std::move(*report);
  // What the readings gained, for hubs that received events. The index has
  // not seen them yet, so it still describes the state before the sync.
  std::unique_ptr<apps::state::StateDb> db;
  const auto& changed = result.report.hubs_changed;
  for (auto& hub : readable) {
    if (std::find(changed.begin(), changed.end(), hub->id()) == changed.end() ||
        result.report.pulled.events == 0) {
      continue;
    }
    if (!db) {
      NB_ASSIGN_OR_RETURN(db, apps::OpenStateDb(local));
    }
    NB_ASSIGN_OR_RETURN(apps::HubSummary before, apps::SummarizeHub(*hub, *db, /*refresh=*/false));
    NB_ASSIGN_OR_RETURN(apps::HubSummary after, apps::SummarizeHub(*hub, *db));
    result.gains.push_back(HubGain{hub->id(), hub->keys().display_name(),
                                   apps::CompareSummaries(before, after), after});
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Result<AddedRoot> AddRoot(const fs::path& folder,
                          const std::function<Result<store::Store*>()>& open_local,
                          const std::map<std::string, std::string>& secrets) {
  AddedRoot out;
  out.path = fs::absolute(folder).lexically_normal();
  NB_ASSIGN_OR_RETURN(auto root, store::StorageRoot::Open(out.path, /*create=*/true));
  auto roots = hub::LoadExtraRoots();
  if (std::find(roots.begin(), roots.end(), out.path) != roots.end()) {
    out.already = true;
    return out;
  }
  NB_ASSIGN_OR_RETURN(store::Store * local, open_local());
  if (fs::equivalent(local->primary().path(), out.path)) {
    return MakeError(ErrorCode::kInvalidArgument, "that folder is the store itself");
  }
  roots.push_back(out.path);
  NB_RETURN_IF_ERROR(hub::SaveExtraRoots(roots));
  // Bring the new root up to date with every hub this machine can read.
  sync::FolderSyncOptions options;
  options.create = true;  // made a root above
  for (const auto& [id, secret] : secrets) {
    options.hub_ids.push_back(id);
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
    options.hub_keys[id] = keys.symmetric_key();
  }
  NB_ASSIGN_OR_RETURN(auto report, sync::SyncFolder(*local, out.path, options));
  out.pushed = report.pushed;
  out.pulled = report.pulled;
  return out;
}

Result<fs::path> RemoveRoot(const fs::path& folder) {
  fs::path path = fs::absolute(folder).lexically_normal();
  auto roots = hub::LoadExtraRoots();
  auto it = std::find(roots.begin(), roots.end(), path);
  if (it == roots.end()) {
    return MakeError(ErrorCode::kNotFound, path.string() + " is not an extra root");
  }
  roots.erase(it);
  NB_RETURN_IF_ERROR(hub::SaveExtraRoots(roots));
  return path;
}

}  // namespace nb::engine
