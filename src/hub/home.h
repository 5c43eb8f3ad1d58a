// Where a user's Nearbytes data lives: $NEARBYTES_HOME, else ~/.nearbytes.
// It holds the default storage root (store/) and local configuration.
#pragma once

#include <filesystem>

namespace nb::hub {

std::filesystem::path HomeDir();
std::filesystem::path DefaultStorePath();

}  // namespace nb::hub
