#include "engine/node.h"

#include "hub/home.h"
#include "sync/folder_carrier.h"

namespace nb::engine {

NodeOptions HomeNodeOptions(const std::filesystem::path& store_override, bool create) {
  NodeOptions options;
  options.create = create;
  if (!store_override.empty()) {
    // Extra roots belong to the default store; an explicit --store is alone.
    options.primary = store_override;
    return options;
  }
  options.primary = hub::DefaultStorePath();
  options.extra_roots = hub::LoadExtraRoots();
  return options;
}

std::vector<std::filesystem::path> AvailableRoots(const NodeOptions& options,
                                                  std::vector<std::string>* warnings) {
  std::vector<std::filesystem::path> roots{options.primary};
  for (const auto& extra : options.extra_roots) {
    std::error_code ec;
    if (std::filesystem::is_directory(extra, ec)) {
      roots.push_back(extra);
    } else if (warnings != nullptr) {
      warnings->push_back("extra root " + extra.string() +
                          " is not available; continuing without it");
    }
  }
  return roots;
}

Result<std::unique_ptr<Node>> Node::Open(const NodeOptions& options,
                                         std::vector<std::string>* warnings) {
  std::vector<std::filesystem::path> roots = AvailableRoots(options, warnings);
  NB_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store,
                      store::Store::Open(roots, options.create));
  return std::unique_ptr<Node>(new Node(std::move(store)));
}

Result<hub::Hub*> Node::OpenHub(hub::HubKeys keys, bool create) {
  if (hub::Hub* open = FindHub(keys.id())) return open;
  std::string id = keys.id();
  NB_ASSIGN_OR_RETURN(std::unique_ptr<hub::Hub> hub,
                      hub::Hub::Open(store_.get(), std::move(keys), create));
  hub->log().Subscribe([this, id](const log::ValidEvent&) { appended_.insert(id); });
  hub::Hub* raw = hub.get();
  hubs_[id] = std::move(hub);
  return raw;
}

hub::Hub* Node::FindHub(const std::string& id) {
  auto it = hubs_.find(id);
  return it == hubs_.end() ? nullptr : it->second.get();
}

Result<std::vector<std::string>> Node::MirrorAppends() {
  std::vector<std::string> warnings;
  if (appended_.empty() || store_->roots().size() < 2) return warnings;
  std::vector<std::string> hub_ids(appended_.begin(), appended_.end());
  appended_.clear();
  std::map<std::string, crypto::SymmetricKey> keys;
  for (const auto& id : hub_ids) keys.emplace(id, hubs_.at(id)->keys().symmetric_key());
  auto primary = store::Store::Open({store_->primary().path()}, false);
  if (!primary.ok()) return primary.error();
  for (size_t i = 1; i < store_->roots().size(); ++i) {
    auto mirror = store::Store::Open({store_->roots()[i].path()}, false);
    if (!mirror.ok()) {
      warnings.push_back(mirror.error().message);
      continue;
    }
    std::vector<std::string> rejected;
    auto carried = sync::Carry(**primary, **mirror, hub_ids, keys, 0, nullptr, &rejected, nullptr);
    if (!carried.ok()) {
      warnings.push_back("could not copy to extra root " + store_->roots()[i].path().string() +
                         ": " + carried.error().message);
    }
  }
  return warnings;
}

}  // namespace nb::engine
