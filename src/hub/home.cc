#include "hub/home.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

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

std::vector<std::filesystem::path> LoadExtraRoots() {
  std::vector<std::filesystem::path> roots;
  std::ifstream in(HomeDir() / "config.json");
  if (!in) return roots;
  auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("roots") || !doc["roots"].is_array()) return roots;
  for (const auto& root : doc["roots"]) {
    if (root.is_string()) roots.emplace_back(root.get<std::string>());
  }
  return roots;
}

bool SaveExtraRoots(const std::vector<std::filesystem::path>& roots) {
  nlohmann::json doc;
  std::ifstream in(HomeDir() / "config.json");
  if (in) doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) doc = nlohmann::json::object();
  doc["roots"] = nlohmann::json::array();
  for (const auto& root : roots) doc["roots"].push_back(root.string());
  std::error_code ec;
  std::filesystem::create_directories(HomeDir(), ec);
  auto temp = HomeDir() / ("config.json.tmp-" + std::to_string(::getpid()));
  {
    std::ofstream out(temp);
    out << doc.dump(2) << "\n";
    if (!out.flush()) return false;
  }
  std::filesystem::rename(temp, HomeDir() / "config.json", ec);
  return !ec;
}

}  // namespace nb::hub
