#include "log/channel_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>
#include <algorithm>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace nb::log {

Result<std::unique_ptr<ChannelWatcher>> ChannelWatcher::Start(HubLog* log) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo, "cannot watch for new events: " + store::ErrnoText(errno));
  }
  std::unique_ptr<ChannelWatcher> watcher(new ChannelWatcher(log, fd));
  for (auto& root : log->store().roots()) {
    std::string dir = root.channel_dir(log->hub_id()).string();
    int wd =
        ::inotify_add_watch(fd, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
    if (wd < 0) {
      if (errno == ENOENT) continue;  // this root does not carry the hub (yet)
      return MakeError(ErrorCode::kIo, "cannot watch " + dir + ": " + store::ErrnoText(errno));
    }
    watcher->watches_[wd] = &root;
  }
  if (watcher->watches_.empty()) {
    return MakeError(ErrorCode::kNotFound, "no channel directory to watch for hub " +
                                               log->hub_id().substr(0, 16) + "...");
  }
  return watcher;
}

ChannelWatcher::~ChannelWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

void ChannelWatcher::TryFile(store::StorageRoot& root, const Hash256& hash,
                             std::vector<ValidEvent>* out) {
  if (reported_.count(hash)) return;
  auto bytes = root.ReadEventFile(log_->hub_id(), hash);
  if (!bytes.ok()) return;
  auto valid = ValidateEventFile(log_->public_key(), hash, *bytes);
  if (!valid.ok()) return;  // maybe still being written: retried on close
  reported_.insert(hash);
  out->push_back(std::move(*valid));
}

void ChannelWatcher::Rescan(std::vector<ValidEvent>* out) {
  for (auto& [wd, root] : watches_) {
    auto hashes = root->ListEvents(log_->hub_id());
    if (!hashes.ok()) continue;
    for (const auto& hash : *hashes) TryFile(*root, hash, out);
  }
}

Result<std::vector<ValidEvent>> ChannelWatcher::Wait(int timeout_ms, int wake_fd) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms < 0 ? 0 : timeout_ms);
  std::vector<ValidEvent> out;
  alignas(inotify_event) char buffer[64 * 1024];
  // Wait(0) still looks once: an event loop calls it when the descriptor is
  // already readable.
  bool looked = false;
  while (out.empty()) {
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 && looked) break;
      wait_ms = std::max(0, static_cast<int>(left.count()));
    }
    looked = true;
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int rc = ::poll(fds, wake_fd >= 0 ? 2 : 1, wait_ms);
    if (rc < 0) {
      if (errno == EINTR) {
        // A signal: let the caller look at why (its wake pipe, if any).
        if (wake_fd >= 0) break;
        continue;
      }
      return MakeError(ErrorCode::kIo, "waiting for new events failed: " + store::ErrnoText(errno));
    }
    if (wake_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) break;
    if ((fds[0].revents & POLLIN) == 0) continue;

    for (;;) {
      ssize_t n = ::read(fd_, buffer, sizeof(buffer));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return MakeError(ErrorCode::kIo,
                         "reading file notifications failed: " + store::ErrnoText(errno));
      }
      if (n == 0) break;
      bool overflow = false;
      for (char* p = buffer; p < buffer + n;) {
        auto* event = reinterpret_cast<inotify_event*>(p);
        p += sizeof(inotify_event) + event->len;
        if (event->mask & IN_Q_OVERFLOW) {
          overflow = true;
          continue;
        }
        if (event->mask & IN_IGNORED) {
          watches_.erase(event->wd);  // the directory went away
          continue;
        }
        auto it = watches_.find(event->wd);
        if (it == watches_.end() || event->len == 0) continue;
        Hash256 hash;
        if (!store::ParseEntryName(
                std::string_view(event->name, ::strnlen(event->name, event->len)), &hash)) {
          continue;  // temp files and foreign names
        }
        TryFile(*it->second, hash, &out);
      }
      // Notifications were lost: the one time the directory is listed again.
      if (overflow) Rescan(&out);
    }
  }
  return out;
}

}  // namespace nb::log
