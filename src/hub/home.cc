#include "hub/home.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace nb::hub {

std::filesystem::path HomeDir() {
  if (const char* home = std::getenv("NEARBYTES_HOME"); home != nullptr && *home != '\0') {
    return home;
  }
  const char* user_home = std::getenv("HOME");
  if (user_home == nullptr || *user_home == '\0') {
    const passwd* pw = ::getpwuid(::getuid());
    user_home = pw != nullptr ? pw->pw_dir : "/tmp";
  }
  return std::filesystem::path(user_home) / ".nearbytes";
}

std::filesystem::path DefaultStorePath() { return HomeDir() / "store"; }

}  // namespace nb::hub
