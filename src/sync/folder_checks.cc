#include "sync/folder_checks.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <memory>

#include "crypto/ecdsa.h"

namespace nb::sync {
namespace {

namespace fs = std::filesystem;

fs::path Canonical(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

// True if `inner` is `outer` or lies below it (both canonical).
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  fs::path rel = inner.lexically_relative(outer);
  return !rel.empty() && *rel.begin() != "..";
}

bool IsTempName(std::string_view name) {
  return name.starts_with(store::kTempPrefix) || name.ends_with(".tmp");
}

enum class Kind { kRegular, kDirectory, kLink, kOther, kGone };

Kind KindOf(const fs::path& path, unsigned char d_type) {
  switch (d_type) {
    case DT_REG:
      return Kind::kRegular;
    case DT_DIR:
      return Kind::kDirectory;
    case DT_LNK:
      return Kind::kLink;
    case DT_UNKNOWN:
      break;
    default:
      return Kind::kOther;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Kind::kGone;
  if (S_ISREG(st.st_mode)) return Kind::kRegular;
  if (S_ISDIR(st.st_mode)) return Kind::kDirectory;
  if (S_ISLNK(st.st_mode)) return Kind::kLink;
  return Kind::kOther;
}

// A directory the carrier uses must be a real directory, never a link.
Status CheckRealDirectory(const fs::path& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return MakeError(ErrorCode::kIo,
                     "cannot read " + dir.string() + ": " + store::ErrnoText(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     dir.string() +
                         " is a symbolic link; sync does not follow links out of the folder "
                         "(make it a real directory)");
  }
  if (!S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, dir.string() + " is not a directory");
  }
  return Status::Ok();
}

class Cleaner {
 public:
  Cleaner(store::StorageRoot& root, FolderJunk* junk) : root_(root), junk_(junk) {}

  // Entries of a directory that should hold only <64 hex>.bin files.
  Status CleanEntryDirectory(const fs::path& dir,
                             const std::function<void(const crypto::Hash256&)>& keep) {
    return ForEach(dir, [&](const std::string& name, const fs::path& path, Kind kind) {
      if (IsTempName(name)) {
        RemoveIfStale(path);
        return;
      }
      crypto::Hash256 hash;
      switch (kind) {
        case Kind::kRegular:
          if (!store::ParseEntryName(name, &hash)) {
            Move(path, "not a block or event name", false);
          } else if (keep) {
            keep(hash);
          }
          return;
        case Kind::kLink:
          Move(path, "a symbolic link (not followed)", true);
          return;
        case Kind::kDirectory:
          // Moved whole (a rename: nothing inside is read or lost).
          Move(path, "a directory where a file belongs", false);
          return;
        default:
          Move(path, "not a regular file", false);
          return;
      }
    });
  }

  Status CleanChannels(FolderListing* listing) {
    std::vector<fs::path> channels;
    NB_RETURN_IF_ERROR(ForEach(root_.channels_dir(),
                               [&](const std::string& name, const fs::path& path, Kind kind) {
                                 if (kind == Kind::kDirectory && store::IsHubId(name) &&
                                     crypto::PublicKey::FromHex(name).ok()) {
                                   channels.push_back(path);
                                 } else if (kind == Kind::kLink) {
                                   Move(path, "a symbolic link (not followed)", true);
                                 } else if (kind == Kind::kDirectory) {
                                   Move(path, "not a hub id (a public key)", false);
                                 } else if (IsTempName(name)) {
                                   RemoveIfStale(path);
                                 } else {
                                   Move(path, "not a hub id", false);
                                 }
                               }));
    for (const auto& dir : channels) {
      std::vector<crypto::Hash256>* events = nullptr;
      if (listing != nullptr) events = &listing->events[dir.filename().string()];
      NB_RETURN_IF_ERROR(CleanEntryDirectory(dir, [&](const crypto::Hash256& hash) {
        if (events != nullptr) events->push_back(hash);
      }));
      if (events != nullptr) std::sort(events->begin(), events->end());
    }
    return Status::Ok();
  }

 private:
  template <typename Fn>
  Status ForEach(const fs::path& dir, Fn&& fn) {
    std::unique_ptr<DIR, int (*)(DIR*)> handle(::opendir(dir.c_str()), ::closedir);
    if (!handle) {
      if (errno == ENOENT) return Status::Ok();
      return MakeError(ErrorCode::kIo,
                       "cannot list " + dir.string() + ": " + store::ErrnoText(errno));
    }
    // Collect first: moving entries while reading a directory may skip some.
    std::vector<std::pair<std::string, unsigned char>> entries;
    while (dirent* entry = ::readdir(handle.get())) {
      std::string_view name = entry->d_name;
      if (name == "." || name == "..") continue;
      entries.emplace_back(std::string(name), entry->d_type);
    }
    handle.reset();
    for (const auto& [name, type] : entries) {
      fs::path path = dir / name;
      Kind kind = KindOf(path, type);
      if (kind == Kind::kGone) continue;
      fn(name, path, kind);
    }
    return Status::Ok();
  }

  void RemoveIfStale(const fs::path& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) return;
    if (std::time(nullptr) - st.st_mtim.tv_sec < store::kStaleTempSeconds) {
      ++junk_->temps_in_flight;
      return;
    }
    if (::unlink(path.c_str()) == 0) {
      ++junk_->stale_temps;
      junk_->details.push_back(path.string() +
                               ": a temp file left by an interrupted writer; removed");
    }
  }

  void Move(const fs::path& path, const std::string& reason, bool link) {
    auto moved = root_.Quarantine(path, reason);
    if (!moved.ok()) {
      junk_->details.push_back(path.string() + ": " + reason + "; " + moved.error().message);
      return;
    }
    ++(link ? junk_->links : junk_->misnamed);
    junk_->details.push_back(path.string() + ": " + reason + "; moved to " + moved->string());
  }

  store::StorageRoot& root_;
  FolderJunk* junk_;
};

}  // namespace

Status CheckFolderPlacement(store::Store& local, const fs::path& folder, bool create) {
  fs::path target = Canonical(folder);
  const auto& roots = local.roots();
  for (size_t i = 0; i < roots.size(); ++i) {
    fs::path root = Canonical(roots[i].path());
    std::string what = i == 0 ? "the local store" : "a root of the local store";
    if (target == root) {
      return MakeError(ErrorCode::kInvalidArgument, folder.string() + " is " + what + " itself");
    }
    if (IsWithin(target, root)) {
      return MakeError(ErrorCode::kInvalidArgument, folder.string() + " is inside " + what + " (" +
                                                        root.string() +
                                                        "); choose a folder outside it");
    }
    for (const char* part : {"blocks", "channels", ".nearbytes"}) {
      if (IsWithin(root, target / part)) {
        return MakeError(ErrorCode::kInvalidArgument,
                         what + " (" + root.string() + ") is inside " + (target / part).string() +
                             ", which sync manages; choose another folder");
      }
    }
  }
  std::error_code ec;
  auto status = fs::status(target, ec);
  if (!fs::exists(status)) {
    if (create) return Status::Ok();
    return MakeError(ErrorCode::kNotFound,
                     "no folder " + folder.string() +
                         "; to start carrying hubs in a new folder there, run again with --create");
  }
  if (!fs::is_directory(status)) {
    return MakeError(ErrorCode::kInvalidArgument, folder.string() + " is not a directory");
  }
  bool ours = fs::exists(target / "blocks", ec) || fs::exists(target / "channels", ec);
  if (!ours && !create) {
    return MakeError(ErrorCode::kInvalidArgument,
                     folder.string() +
                         " is not a Nearbytes folder (no blocks/ or channels/ in it); to make it "
                         "one, run again with --create");
  }
  return Status::Ok();
}

Status CheckFolderDirectories(store::StorageRoot& folder) {
  for (const auto& dir : {folder.blocks_dir(), folder.channels_dir(), folder.state_dir(),
                          folder.state_dir() / "quarantine"}) {
    NB_RETURN_IF_ERROR(CheckRealDirectory(dir));
  }
  return Status::Ok();
}

Result<FolderJunk> ScanFolderJunk(store::StorageRoot& folder, FolderListing* listing) {
  NB_RETURN_IF_ERROR(CheckFolderDirectories(folder));
  FolderJunk junk;
  Cleaner cleaner(folder, &junk);
  NB_RETURN_IF_ERROR(
      cleaner.CleanEntryDirectory(folder.blocks_dir(), [&](const crypto::Hash256& h) {
        if (listing != nullptr) listing->blocks.insert(h);
      }));
  NB_RETURN_IF_ERROR(cleaner.CleanChannels(listing));
  return junk;
}

}  // namespace nb::sync
