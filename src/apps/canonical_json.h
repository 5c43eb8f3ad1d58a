// Canonical JSON as the reference signs application records (FORMAT.md §6):
// JavaScript JSON.stringify of the value with every object's keys sorted.
//
// - Keys sort by byte order. The reference sorts with localeCompare; for the
//   lower-case ASCII keys of chat and identity records the two agree.
// - Strings escape only `"`, `\` and U+0000..U+001F (\b \t \n \f \r in short
//   form, the others as \u00xx with lower-case hex). Everything else,
//   U+007F, U+2028, U+2029 and all non-ASCII included, is written as raw
//   UTF-8 (vectors.json → chatCanonicalJson).
// - Integers are written in decimal. A float with an integral value in the
//   safe range is written as that integer, as JSON.stringify would.
//
// The writer is also used for payloads whose key order is fixed rather than
// sorted: AppendJsonString gives the same string escaping.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace nb::apps {

// Largest integer JavaScript represents exactly (Number.MAX_SAFE_INTEGER).
constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// `value` must hold valid UTF-8 in its strings (nlohmann's parser ensures it).
std::string CanonicalJson(const nlohmann::json& value);

// Appends `text` as a JSON string literal with JSON.stringify's escaping.
// Invalid UTF-8 is copied byte for byte; callers validate first.
void AppendJsonString(std::string* out, std::string_view text);
std::string JsonString(std::string_view text);

bool IsValidUtf8(std::string_view text);

// The inner payload of an application record, keys in the reference's order
// (nearbytes-log serialization.ts): {"type":"APP_RECORD","protocol":P,
// "record":R,"authorPublicKey":A,"publishedAt":MS}.
std::string AppRecordPayload(std::string_view protocol, std::string_view record,
                             std::string_view author_public_key, int64_t published_at);

// String.prototype.trim: strips Unicode white space and line terminators
// (U+0009..U+000D, U+0020, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000, U+FEFF) from both ends of valid UTF-8.
std::string_view TrimJs(std::string_view text);

// A JSON number that is a non-negative safe integer (the reference's
// timestamp rule), whether the parser stored it as an integer or a float.
std::optional<int64_t> SafeTimestamp(const nlohmann::json& value);

}  // namespace nb::apps
