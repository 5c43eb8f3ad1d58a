// What `put` remembers about local files it stored, so that putting the
// same tree again does not read and encrypt every file to learn that nothing
// changed (restic's parent snapshot, git's index).
//
// One file per hub in the primary root's local state directory
// (.nearbytes/put-cache-<hub id prefix>.bin, derived state: deleting it only
// makes the next put slower). An entry maps a local absolute path and the
// file's stamp (device, inode, size, modification and change times) to the
// content reference the put computed. It is trusted only for an exact stamp
// match, and the stamp is recorded only for a file that held still while
// read and had not been modified in the two seconds before (a write in the
// same clock tick could otherwise leave the stamp unchanged).
//
// The put uses a hit only to recognise a file as unchanged: when the hub's
// live file at that path already has the remembered content. Anything else
// is read again, so a stale or forged cache can never put wrong content into
// a hub; at worst it makes a put read a file it could have skipped.
//
// Puts of fewer than 64 files neither load nor update it (reading a few
// files costs less than loading and rewriting the cache of a whole tree).
//
// The file is read as hostile: a bad checksum, a foreign hub, an unknown
// layout or anything out of bounds makes an empty cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>

#include "apps/files/content_ref.h"
#include "apps/files/file_content.h"
#include "base/status.h"

namespace nb::engine {

class PutCache {
 public:
  // At most this many entries are kept; a put that would pass it starts over
  // with only its own files.
  static constexpr size_t kMaxEntries = 1'000'000;

  // An empty cache if the file is missing or unusable.
  static PutCache Load(const std::filesystem::path& file, const std::string& hub_id,
                       apps::files::ContentLayout layout);

  // The content remembered for `path` if its stamp is exactly `stamp`.
  std::optional<apps::files::ContentRef> Find(const std::string& path,
                                              const apps::files::FileStamp& stamp) const;
  void Remember(const std::string& path, const apps::files::FileStamp& stamp,
                const apps::files::ContentRef& ref);

  // Writes the cache if anything changed (atomically: a crash leaves the old
  // file or the new one).
  Status Save();

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    apps::files::FileStamp stamp;
    apps::files::ContentRef ref;
  };
  std::filesystem::path file_;
  std::string hub_id_;
  apps::files::ContentLayout layout_ = apps::files::ContentLayout::kChunked;
  std::unordered_map<std::string, Entry> entries_;
  bool dirty_ = false;
};

// Where the cache of `hub_id` lives under a root's local state directory.
std::filesystem::path PutCachePath(const std::filesystem::path& state_dir,
                                   const std::string& hub_id);

}  // namespace nb::engine
