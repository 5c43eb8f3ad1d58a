// A store: one or more storage roots seen as one. Reads look in every root
// (the primary first); writes go to the primary. A corrupt copy in one root
// is quarantined and the next root's copy is served instead.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/storage_root.h"

namespace nb::store {

class Store {
 public:
  // `paths[0]` is the primary root. With `create_primary`, it is created if
  // missing; extra roots must already exist (a missing one is an error).
  static Result<std::unique_ptr<Store>> Open(const std::vector<fs::path>& paths,
                                             bool create_primary);

  StorageRoot& primary() { return roots_.front(); }
  const StorageRoot& primary() const { return roots_.front(); }
  std::vector<StorageRoot>& roots() { return roots_; }

  Result<Hash256> PutBlock(ByteSpan bytes, const PublishOptions& options = {}) {
    return primary().PutBlock(bytes, options);
  }
  Result<Bytes> GetBlock(const Hash256& hash);
  bool HasBlock(const Hash256& hash) const;
  // Size of the first regular block file of that name; kNotFound if none
  // (HasBlock and BlockSize in one stat per root).
  Result<uint64_t> BlockFileSize(const Hash256& hash) const;
  Result<uint64_t> BlockSize(const Hash256& hash) const;

  Result<std::vector<std::string>> ListChannels() const;
  Result<std::vector<Hash256>> ListEvents(const std::string& channel) const;
  bool HasEvent(const std::string& channel, const Hash256& hash) const;
  // Which root holds an event first (nullptr if none).
  StorageRoot* RootWithEvent(const std::string& channel, const Hash256& hash);

  // Problems met while serving reads (quarantined copies), for the faces to
  // report. Cleared by TakeIncidents.
  std::vector<std::string> TakeIncidents();
  void ReportIncident(std::string message);

 private:
  explicit Store(std::vector<StorageRoot> roots) : roots_(std::move(roots)) {}
  std::vector<StorageRoot> roots_;
  std::mutex incidents_mu_;
  std::vector<std::string> incidents_;
};

}  // namespace nb::store
