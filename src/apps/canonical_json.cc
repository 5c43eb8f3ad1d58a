#include "apps/canonical_json.h"

#include <cmath>

namespace nb::apps {
namespace {

// Decodes one code point of valid UTF-8 at `text[pos]`; returns its length,
// or 0 if the bytes there are not a well-formed sequence.
size_t DecodeUtf8(std::string_view text, size_t pos, uint32_t* code_point) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(pos);
  size_t length;
  uint32_t cp;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
    cp = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    cp = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (size_t i = 1; i < length; ++i) {
    uint8_t next = byte(pos + i);
    if ((next & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (next & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((length == 3 && cp < 0x800) || (length == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  *code_point = cp;
  return length;
}

bool IsJsWhitespace(uint32_t cp) {
  switch (cp) {
    case 0x09:
    case 0x0a:
    case 0x0b:
    case 0x0c:
    case 0x0d:
    case 0x20:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
    case 0xfeff:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200a;
  }
}

void AppendCanonical(std::string* out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      // nlohmann::json keeps object members in a std::map: byte order.
      out->push_back('{');
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, key);
        out->push_back(':');
        AppendCanonical(out, member);
      }
      out->push_back('}');
      return;
    }
    case nlohmann::json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out->push_back(',');
        first = false;
        AppendCanonical(out, item);
      }
      out->push_back(']');
      return;
    }
    case nlohmann::json::value_t::string:
      AppendJsonString(out, value.get_ref<const std::string&>());
      return;
    case nlohmann::json::value_t::number_float: {
      double d = value.get<double>();
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= double(kMaxSafeInteger)) {
        out->append(std::to_string(static_cast<int64_t>(d)));
      } else if (!std::isfinite(d)) {
        out->append("null");  // JSON.stringify(NaN) === "null"
      } else {
        out->append(value.dump());
      }
      return;
    }
    default:
      // null, booleans and integers print the same in both worlds.
      out->append(value.dump());
      return;
  }
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : text) {
    auto u = static_cast<uint8_t>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        if (u < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

std::string JsonString(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonString(&out, text);
  return out;
}

std::string CanonicalJson(const nlohmann::json& value) {
  std::string out;
  AppendCanonical(&out, value);
  return out;
}

std::string AppRecordPayload(std::string_view protocol, std::string_view record,
                             std::string_view author_public_key, int64_t published_at) {
  std::string out = "{\"type\":\"APP_RECORD\",\"protocol\":";
  AppendJsonString(&out, protocol);
  out.append(",\"record\":");
  AppendJsonString(&out, record);
  out.append(",\"authorPublicKey\":");
  AppendJsonString(&out, author_public_key);
  out.append(",\"publishedAt\":");
  out.append(std::to_string(published_at));
  out.push_back('}');
  return out;
}

bool IsValidUtf8(std::string_view text) {
  uint32_t cp;
  for (size_t pos = 0; pos < text.size();) {
    size_t n = DecodeUtf8(text, pos, &cp);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string_view TrimJs(std::string_view text) {
  size_t begin = 0;
  uint32_t cp;
  while (begin < text.size()) {
    size_t n = DecodeUtf8(text, begin, &cp);
    if (n == 0 || !IsJsWhitespace(cp)) break;
    begin += n;
  }
  size_t end = text.size();
  while (end > begin) {
    // Step back to the lead byte of the last code point.
    size_t start = end - 1;
    while (start > begin && (static_cast<uint8_t>(text[start]) & 0xc0) == 0x80 && end - start < 4) {
      --start;
    }
    size_t n = DecodeUtf8(text, start, &cp);
    if (n != end - start || !IsJsWhitespace(cp)) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

std::optional<int64_t> SafeTimestamp(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(kMaxSafeInteger)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0 || v > kMaxSafeInteger) return std::nullopt;
    return v;
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d || d < 0 || d > double(kMaxSafeInteger)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace nb::apps
