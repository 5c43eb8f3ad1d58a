// Where a user's Nearbytes data lives: $NEARBYTES_HOME, else ~/.nearbytes.
// It holds the default storage root (store/) and local configuration.
#pragma once

#include <filesystem>
#include <vector>

#include "base/status.h"

namespace nb::hub {

std::filesystem::path HomeDir();
std::filesystem::path DefaultStorePath();

// Extra storage roots of the default store ($NEARBYTES_HOME/config.json,
// "roots"): folders a cloud client or a share keeps in step. They are read
// on every open and receive every append.
std::vector<std::filesystem::path> LoadExtraRoots();
// Rewrites config.json durably (store/file_io.h ReplaceFileDurably).
Status SaveExtraRoots(const std::vector<std::filesystem::path>& roots);

}  // namespace nb::hub
