// What every reading needs to know about an inner payload before it looks
// deeper: its type, its application protocol and its timestamp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nb::apps {

struct PayloadSummary {
  std::string type;      // CREATE_FILE, MKDIR, DELETE, RENAME, APP_RECORD, ...
  std::string protocol;  // for APP_RECORD, e.g. nb.chat.message.v1
  std::optional<int64_t> timestamp_ms;  // createdAt/deletedAt/renamedAt/publishedAt
};

// nullopt if the text is not a JSON object with a string "type".
std::optional<PayloadSummary> SummarizePayload(std::string_view json_text);

}  // namespace nb::apps
