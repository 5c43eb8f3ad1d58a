#include "engine/files_listing.h"

#include "base/parallel.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "apps/files/content_check.h"
#include "apps/files/file_content.h"
#include "engine/hub_paths.h"

namespace nb::engine {

using apps::files::FileEntry;
using apps::files::FilesReading;

Result<Listing> ListFiles(FilesSession& session, const std::string& raw, bool recursive,
                          const std::string& at) {
  NB_ASSIGN_OR_RETURN(ChosenReading chosen, ChooseReading(session.reading(), at, NowMs()));
  const FilesReading& reading = chosen.reading();
  Listing out;
  out.base = NormalizeHubPath(raw);
  const std::string& base = out.base;
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  std::set<std::string> conflicted;
  for (const auto& c : reading.conflicts()) conflicted.insert(c.path);

  // Files are listed first; their blocks are looked at afterwards, on every
  // core (a stat per file: `ls -r` of a large hub is mostly that).
  auto add_file = [&](const std::string& path, const FileEntry& entry) {
    out.entries.push_back(
        ListedEntry{path, false, false, 0, entry.modified_ms, conflicted.count(path) > 0, entry});
  };
  auto check_presence = [&] {
    ParallelFor(out.entries.size(), 0, [&](size_t i) {
      ListedEntry& e = out.entries[i];
      if (e.dir || !e.file) return;
      auto presence =
          apps::files::CheckContentPresence(store, hub_key, e.file->content, e.file->wrapped_key);
      e.size = presence.size;
      e.missing_blocks = presence.missing;
    });
  };
  out.one_file = !base.empty() && reading.IsFile(base);
  if (out.one_file) {
    add_file(base, reading.files().at(base));
    check_presence();
    return out;
  }
  if (!base.empty() && !reading.IsDirectory(base)) {
    return MakeError(ErrorCode::kNotFound,
                     "no such file or directory: " + base + (at.empty() ? "" : " (at " + at + ")"));
  }
  std::string prefix = base.empty() ? "" : base + "/";
  auto in_scope = [&](const std::string& path) {
    if (path.compare(0, prefix.size(), prefix) != 0 || path.size() == prefix.size()) {
      return false;
    }
    return recursive || path.find('/', prefix.size()) == std::string::npos;
  };
  for (const auto& dir : reading.Directories()) {
    if (in_scope(dir.path)) {
      out.entries.push_back(ListedEntry{dir.path, true, dir.explicit_dir, 0, 0,
                                        conflicted.count(dir.path) > 0, std::nullopt});
    }
  }
  for (auto it = reading.files().lower_bound(prefix);
       it != reading.files().end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    if (in_scope(it->first)) add_file(it->first, it->second);
  }
  check_presence();
  std::sort(out.entries.begin(), out.entries.end(),
            [](const ListedEntry& a, const ListedEntry& b) { return a.path < b.path; });
  return out;
}

namespace {

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::vector<FoundPath>> FindFiles(const FilesReading& reading, const std::string& pattern,
                                         const std::string& raw_base) {
  std::string base = NormalizeHubPath(raw_base);
  if (!base.empty() && !reading.IsDirectory(base)) {
    return MakeError(ErrorCode::kNotFound, "no such directory: " + base);
  }
  // A pattern with wildcards is a glob (on the whole path or the name);
  // anything else a substring. Both ignore case, like a desktop search.
  bool glob = pattern.find_first_of("*?[") != std::string::npos;
  std::string needle = AsciiLower(pattern);
  auto matches = [&](const std::string& path) {
    if (glob) {
      return ::fnmatch(pattern.c_str(), path.c_str(), FNM_CASEFOLD) == 0 ||
             ::fnmatch(pattern.c_str(), BaseName(path).c_str(), FNM_CASEFOLD) == 0;
    }
    return AsciiLower(path).find(needle) != std::string::npos;
  };
  std::string prefix = base.empty() ? "" : base + "/";
  std::vector<FoundPath> found;
  for (const auto& dir : reading.Directories()) {
    if (dir.path.starts_with(prefix) && matches(dir.path)) {
      found.push_back(FoundPath{dir.path, true, 0, {}});
    }
  }
  for (auto it = reading.files().lower_bound(prefix);
       it != reading.files().end() && it->first.starts_with(prefix); ++it) {
    if (matches(it->first)) {
      found.push_back(FoundPath{it->first, false, it->second.modified_ms, it->second.origin_event});
    }
  }
  std::sort(found.begin(), found.end(), [](const FoundPath& a, const FoundPath& b) {
    return std::tie(a.path, a.dir) < std::tie(b.path, b.dir);
  });
  return found;
}

Result<DiskUsageReport> DiskUsage(FilesSession& session, const std::string& raw) {
  const FilesReading& reading = session.reading();
  DiskUsageReport out;
  out.base = NormalizeHubPath(raw);
  const std::string& base = out.base;
  auto& store = session.hub->store();
  const auto& hub_key = session.hub->keys().symmetric_key();
  if (!base.empty() && !reading.IsFile(base) && !reading.IsDirectory(base)) {
    return MakeError(ErrorCode::kNotFound, "no such file or directory: " + base);
  }
  std::string prefix = base.empty() ? "" : base + "/";
  auto add = [&](const std::string& path, const FileEntry& entry) {
    auto size = apps::files::ContentSize(store, hub_key, entry.content, entry.wrapped_key);
    if (!size.ok()) ++out.unknown;
    uint64_t bytes = size.ok() ? *size : 0;
    out.total.bytes += bytes;
    ++out.total.files;
    std::string rest = path.substr(prefix.size());
    size_t slash = rest.find('/');
    Usage& child = out.children[prefix + rest.substr(0, slash)];
    child.bytes += bytes;
    ++child.files;
    child.dir = slash != std::string::npos;
  };
  if (!base.empty() && reading.IsFile(base)) {
    prefix.clear();
    add(base, reading.files().at(base));
  } else {
    for (auto it = reading.files().lower_bound(prefix);
         it != reading.files().end() && it->first.starts_with(prefix); ++it) {
      add(it->first, it->second);
    }
  }
  return out;
}

}  // namespace nb::engine
