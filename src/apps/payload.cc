#include "apps/payload.h"

#include <nlohmann/json.hpp>

namespace nb::apps {

std::optional<PayloadSummary> SummarizePayload(std::string_view json_text) {
  auto doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto type = doc.find("type");
  if (type == doc.end() || !type->is_string()) return std::nullopt;
  PayloadSummary out;
  out.type = type->get<std::string>();
  if (auto protocol = doc.find("protocol"); protocol != doc.end() && protocol->is_string()) {
    out.protocol = protocol->get<std::string>();
  }
  for (const char* field : {"createdAt", "deletedAt", "renamedAt", "publishedAt"}) {
    auto it = doc.find(field);
    if (it != doc.end() && it->is_number_integer()) {
      out.timestamp_ms = it->get<int64_t>();
      break;
    }
  }
  return out;
}

}  // namespace nb::apps
