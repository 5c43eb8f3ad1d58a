#include "store/store.h"

#include <algorithm>

namespace nb::store {

Result<std::unique_ptr<Store>> Store::Open(const std::vector<fs::path>& paths,
                                           bool create_primary) {
  if (paths.empty()) return MakeError(ErrorCode::kInvalidArgument, "no storage root given");
  std::vector<StorageRoot> roots;
  for (size_t i = 0; i < paths.size(); ++i) {
    NB_ASSIGN_OR_RETURN(StorageRoot root, StorageRoot::Open(paths[i], i == 0 && create_primary));
    roots.push_back(std::move(root));
  }
  return std::unique_ptr<Store>(new Store(std::move(roots)));
}

Result<Bytes> Store::GetBlock(const Hash256& hash) {
  std::optional<Error> last_error;
  for (auto& root : roots_) {
    auto block = root.GetBlock(hash, /*verify=*/true);
    if (block.ok()) return block;
    if (block.error().code == ErrorCode::kCorrupt) ReportIncident(block.error().message);
    if (block.error().code != ErrorCode::kNotFound || !last_error) last_error = block.error();
  }
  if (last_error && last_error->code != ErrorCode::kNotFound) return *last_error;
  return MakeError(ErrorCode::kNotFound, "block " + hash.Hex() + " is not in the store");
}

bool Store::HasBlock(const Hash256& hash) const {
  return std::any_of(roots_.begin(), roots_.end(),
                     [&](const StorageRoot& r) { return r.HasBlock(hash); });
}

Result<uint64_t> Store::BlockFileSize(const Hash256& hash) const {
  for (const auto& root : roots_) {
    auto st = root.StatBlockFile(hash);
    if (st.ok()) return st->size;
  }
  return MakeError(ErrorCode::kNotFound, "block " + hash.Hex() + " is not in the store");
}

Result<uint64_t> Store::BlockSize(const Hash256& hash) const {
  for (const auto& root : roots_) {
    auto st = root.StatBlock(hash);
    if (st.ok()) return st->size;
  }
  return MakeError(ErrorCode::kNotFound, "block " + hash.Hex() + " is not in the store");
}

Result<std::vector<std::string>> Store::ListChannels() const {
  std::vector<std::string> all;
  for (const auto& root : roots_) {
    NB_ASSIGN_OR_RETURN(auto channels, root.ListChannels());
    all.insert(all.end(), channels.begin(), channels.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

Result<std::vector<Hash256>> Store::ListEvents(const std::string& channel) const {
  std::vector<Hash256> all;
  for (const auto& root : roots_) {
    NB_ASSIGN_OR_RETURN(auto events, root.ListEvents(channel));
    all.insert(all.end(), events.begin(), events.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

bool Store::HasEvent(const std::string& channel, const Hash256& hash) const {
  return std::any_of(roots_.begin(), roots_.end(),
                     [&](const StorageRoot& r) { return r.HasEvent(channel, hash); });
}

StorageRoot* Store::RootWithEvent(const std::string& channel, const Hash256& hash) {
  for (auto& root : roots_) {
    if (root.HasEvent(channel, hash)) return &root;
  }
  return nullptr;
}

std::vector<std::string> Store::TakeIncidents() {
  std::lock_guard<std::mutex> lock(incidents_mu_);
  return std::exchange(incidents_, {});
}

void Store::ReportIncident(std::string message) {
  std::lock_guard<std::mutex> lock(incidents_mu_);
  incidents_.push_back(std::move(message));
}

}  // namespace nb::store
