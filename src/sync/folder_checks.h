// Safety checks on a carried folder, run before the carrier touches it.
//
// Placement: a folder that does not exist, or that exists but is not yet a
// Nearbytes folder (no blocks/ or channels/), is only made one when asked
// (`create`): a typo must not push a whole hub into a new directory or into
// someone's documents. A folder that is the local store, one of its roots,
// or lies inside one is refused (the carrier would write store files into
// the store's own tree). The store inside the folder is harmless (the carrier
// only touches <folder>/blocks, <folder>/channels and <folder>/.nearbytes),
// except when the store lies inside one of those three: its files would be
// taken for junk, so that is refused too.
//
// Links: the carrier never follows a symbolic link out of the folder.
// blocks/, channels/ and .nearbytes/ must be real directories (otherwise the
// sync stops with one line); a channel directory or an entry in blocks/ or a
// channel that is a link is moved to the folder's quarantine, unread.
//
// Junk: names that are neither blocks nor events nor hub ids, and links, are
// moved to <folder>/.nearbytes/quarantine once (so a later run is quiet);
// temp files left by crashed writers are removed once stale. A directory
// where a file belongs, or a channel directory whose name is not a valid hub
// key, is moved whole (a rename within the folder: nothing is read or lost).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace nb::sync {

// Fails with one line if `folder` may not be carried to/from `local` (see
// above). `create`: the user asked for a new folder.
Status CheckFolderPlacement(store::Store& local, const std::filesystem::path& folder, bool create);

struct FolderJunk {
  size_t misnamed = 0;               // quarantined: names that are not ours
  size_t links = 0;                  // quarantined: symbolic links (not followed)
  size_t stale_temps = 0;            // removed: temp files of crashed writers
  size_t temps_in_flight = 0;        // left alone: temp files too young to be stale
  std::vector<std::string> details;  // one line per entry (for --json)
};

// What a scan saw that stays: well-named regular files (sorted event lists).
struct FolderListing {
  std::unordered_set<crypto::Hash256> blocks;
  std::map<std::string, std::vector<crypto::Hash256>> events;  // by hub id
};

// Cleans the folder's blocks/ and channels/ as described above, and lists
// what stays in `listing` (if given). Fails only when blocks/, channels/ or
// .nearbytes/ (or its quarantine/) is a link or not a directory.
Result<FolderJunk> ScanFolderJunk(store::StorageRoot& folder, FolderListing* listing = nullptr);

// The scan's first step alone: fails if blocks/, channels/, .nearbytes/ or
// its quarantine/ is a link or not a directory.
Status CheckFolderDirectories(store::StorageRoot& folder);

}  // namespace nb::sync
