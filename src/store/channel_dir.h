// One channel directory of one root, opened once: its event files are
// listed and stat'ed relative to the directory's descriptor (one name per
// system call, no path objects). The event index checks every event file of
// a hub on each open; a full path per file made that walk seven path
// components and build a std::filesystem::path each time.
//
// Thread-safety: the const methods may be called from several threads at
// once (the index stats on every core).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "store/storage_root.h"

namespace nb::store {

class ChannelDir {
 public:
  // kNotFound if the root has no directory for this channel.
  static Result<ChannelDir> Open(const StorageRoot& root, const std::string& channel);
  ChannelDir(ChannelDir&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), mtime_ns_(other.mtime_ns_) {}
  ChannelDir& operator=(ChannelDir&& other) noexcept;
  ChannelDir(const ChannelDir&) = delete;
  ChannelDir& operator=(const ChannelDir&) = delete;
  ~ChannelDir();

  // The directory's mtime when it was opened: a name added or removed
  // since changes it; a file rewritten in place does not.
  int64_t mtime_ns() const { return mtime_ns_; }
  // Size and mtime of one event file; kNotFound if it is not there (or is
  // not a regular file).
  Result<EntryStat> StatEvent(const Hash256& hash) const;
  // Event hashes from well-formed names only, sorted.
  Result<std::vector<Hash256>> ListEvents() const;
  // The bytes of one event file, as StorageRoot::ReadEventFile reads them
  // (kNotFound if it is not there; kCorrupt if it is not a regular file or
  // is larger than kMaxEventFileSize), opened relative to the directory: a
  // cold replay reads every event file of the hub.
  Result<Bytes> ReadEvent(const Hash256& hash) const;

 private:
  ChannelDir(int fd, int64_t mtime_ns) : fd_(fd), mtime_ns_(mtime_ns) {}
  int fd_;
  int64_t mtime_ns_;
};

}  // namespace nb::store
