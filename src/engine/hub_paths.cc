#include "engine/hub_paths.h"

namespace nb::engine {

std::string NormalizeHubPath(std::string_view input) {
  std::string out;
  size_t i = 0;
  while (i < input.size()) {
    while (i < input.size() && input[i] == '/') ++i;
    size_t end = input.find('/', i);
    if (end == std::string_view::npos) end = input.size();
    if (end > i) {
      if (!out.empty()) out += '/';
      out.append(input.substr(i, end - i));
    }
    i = end;
  }
  return out;
}

std::string JoinHubPath(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace nb::engine
