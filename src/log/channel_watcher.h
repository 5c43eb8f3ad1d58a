// Notices event files that appear in a hub's channel directories (in every
// root of its store) after it starts: files published by another process,
// by sync, or by a cloud client that copies them in. It uses inotify and
// reads only the new names, never the whole log again, except once after
// the kernel's event queue overflowed.
//
// Start it before loading the log, so an event published during the load is
// not missed; such an event may then be reported as well as loaded, so
// callers dedupe by hash (readings ignore duplicates anyway).
//
// A new file is validated like any event (hash, signature, channel). A file
// that does not validate yet may still be being written (plain copies appear
// before their bytes do), so it is tried again when it is closed; it is
// never quarantined here (`nearbytes verify` and the next load do that).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "log/hub_log.h"

namespace nb::log {

class ChannelWatcher {
 public:
  static Result<std::unique_ptr<ChannelWatcher>> Start(HubLog* log);
  ~ChannelWatcher();
  ChannelWatcher(const ChannelWatcher&) = delete;
  ChannelWatcher& operator=(const ChannelWatcher&) = delete;

  // The inotify descriptor, for an event loop to wait on: when it becomes
  // readable, Wait(0) returns what arrived. Owned by the watcher.
  int fd() const { return fd_; }

  // Tells the watcher an event is already known, so it is not reported.
  void MarkKnown(const Hash256& hash) { reported_.insert(hash); }

  // Waits until new valid events arrive, `timeout_ms` passes (-1: no limit)
  // or `wake_fd` (if >= 0) becomes readable, e.g. a signal's self-pipe.
  // Returns the new events, in no particular order; empty on timeout or wake.
  Result<std::vector<ValidEvent>> Wait(int timeout_ms, int wake_fd = -1);

 private:
  explicit ChannelWatcher(HubLog* log, int fd) : log_(log), fd_(fd) {}
  // Reads and validates one named file; adds it to `out` if new and valid.
  void TryFile(store::StorageRoot& root, const Hash256& hash, std::vector<ValidEvent>* out);
  void Rescan(std::vector<ValidEvent>* out);

  HubLog* log_;
  int fd_;
  std::map<int, store::StorageRoot*> watches_;  // watch descriptor -> root
  std::set<Hash256> reported_;
};

}  // namespace nb::log
