#include "hub/home.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "store/file_io.h"

namespace nb::hub {

namespace {
// config.json is a few lines; anything larger is not ours.
constexpr uint64_t kMaxConfigSize = 1 << 20;
}  // namespace

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
  auto bytes = store::ReadFileBytes(HomeDir() / "config.json", kMaxConfigSize);
  if (!bytes.ok()) return roots;
  auto doc = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr,
                                   /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("roots") || !doc["roots"].is_array()) return roots;
  for (const auto& root : doc["roots"]) {
    if (root.is_string()) roots.emplace_back(root.get<std::string>());
  }
  return roots;
}

Status SaveExtraRoots(const std::vector<std::filesystem::path>& roots) {
  std::filesystem::path file = HomeDir() / "config.json";
  nlohmann::json doc;
  auto existing = store::ReadFileBytes(file, kMaxConfigSize);
  if (existing.ok()) {
    doc = nlohmann::json::parse(existing->begin(), existing->end(), nullptr,
                                /*allow_exceptions=*/false);
  }
  if (!doc.is_object()) doc = nlohmann::json::object();
  doc["roots"] = nlohmann::json::array();
  for (const auto& root : roots) doc["roots"].push_back(root.string());
  NB_RETURN_IF_ERROR(store::EnsureDirectory(HomeDir()));
  std::string text = doc.dump(2) + "\n";
  return store::ReplaceFileDurably(file, AsBytes(text), {.mode = 0644});
}

}  // namespace nb::hub
