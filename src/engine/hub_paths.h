// Hub paths as people type them, and their pieces. The FILES reading's own
// rules for what a stored path may be are apps/files (HubPathProblem).
#pragma once

#include <string>
#include <string_view>

namespace nb::engine {

// "/docs/a.txt", "docs/a.txt/" and "docs//a.txt" all mean docs/a.txt; "" and
// "/" mean the root ("").
std::string NormalizeHubPath(std::string_view input);
// dir + "/" + name, or name at the root.
std::string JoinHubPath(const std::string& dir, const std::string& name);
// The last component of a hub path.
std::string BaseName(const std::string& path);

}  // namespace nb::engine
