#include "apps/chat/written_chat.h"

#include "apps/canonical_json.h"

namespace nb::apps::chat {
namespace {

// A cursor over the payload or the record; every step either consumes what
// it expects or fails, and a failure sends the caller to the general path.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool Literal(std::string_view expected) {
    if (text_.substr(pos_, expected.size()) != expected) return false;
    pos_ += expected.size();
    return true;
  }
  bool AtEnd() const { return pos_ == text_.size(); }

  // `count` hex digits (lower-case only if `lower`).
  std::optional<std::string_view> Hex(size_t count, bool lower) {
    if (text_.size() - pos_ < count) return std::nullopt;
    for (size_t i = 0; i < count; ++i) {
      char c = text_[pos_ + i];
      bool digit =
          (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (!lower && c >= 'A' && c <= 'F');
      if (!digit) return std::nullopt;
    }
    std::string_view out = text_.substr(pos_, count);
    pos_ += count;
    return out;
  }

  // A JSON integer as JSON.stringify writes a safe, non-negative one: 1 to
  // 15 digits (below 2^53), no leading zero. Returns its digits.
  std::optional<std::string_view> SafeDigits(int64_t* value) {
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && pos_ - start < 16) {
      v = v * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    size_t n = pos_ - start;
    if (n == 0 || n > 15 || (n > 1 && text_[start] == '0')) return std::nullopt;
    *value = v;
    return text_.substr(start, n);
  }

  // Characters of the b64url alphabet up to the next '"' (not consumed).
  std::optional<std::string_view> Base64Url() {
    size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';
      if (!ok) break;
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  // The payload's "record" string up to its closing quote (consumed): a
  // record written canonically needs only \" and \\ at this level (its own
  // escapes are backslashes; raw control characters cannot occur).
  bool RecordString(std::string* out) {
    out->reserve(text_.size() - pos_);
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<uint8_t>(c) < 0x20) return false;
      if (c == '\\') {
        if (pos_ >= text_.size()) return false;
        char e = text_[pos_++];
        if (e != '"' && e != '\\') return false;
        out->push_back(e);
      } else {
        out->push_back(c);
      }
    }
    return false;
  }

  // The record's body string up to its closing quote (consumed), accepted
  // only if it is escaped exactly as CanonicalJson escapes: then its raw
  // bytes are the body's canonical JSON, spliced into the signed form.
  bool CanonicalBody(std::string* body, std::string_view* raw) {
    size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') {
        *raw = text_.substr(start, pos_ - 1 - start);
        return true;
      }
      if (static_cast<uint8_t>(c) < 0x20) return false;
      if (c != '\\') {
        body->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return false;
      char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
          body->push_back(e);
          break;
        case 'b':
          body->push_back('\b');
          break;
        case 't':
          body->push_back('\t');
          break;
        case 'n':
          body->push_back('\n');
          break;
        case 'f':
          body->push_back('\f');
          break;
        case 'r':
          body->push_back('\r');
          break;
        case 'u': {
          // Only \u00xx (lower-case hex) for controls without a short form.
          if (!Literal("00")) return false;
          auto hex = Hex(2, /*lower=*/true);
          if (!hex) return false;
          auto nibble = [](char h) { return h <= '9' ? h - '0' : h - 'a' + 10; };
          int value = nibble((*hex)[0]) * 16 + nibble((*hex)[1]);
          if (value >= 0x20 || value == '\b' || value == '\t' || value == '\n' || value == '\f' ||
              value == '\r') {
            return false;
          }
          body->push_back(static_cast<char>(value));
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<WrittenChat> DecodeWrittenChat(const crypto::PublicKey& hub_key,
                                             std::string_view hub_id, const Hash256& hash,
                                             const std::vector<Hash256>& block_refs,
                                             std::string_view payload) {
  if (payload.size() > files::kMaxPayloadBytes) return std::nullopt;
  Cursor outer(payload);
  std::string record;
  int64_t published_at = 0;
  if (!outer.Literal(R"({"type":"APP_RECORD","protocol":"nb.chat.message.v1","record":")") ||
      !outer.RecordString(&record) || !outer.Literal(R"(,"authorPublicKey":")") ||
      !outer.Hex(crypto::kPublicKeySize * 2, /*lower=*/false) ||
      !outer.Literal(R"(","publishedAt":)") || !outer.SafeDigits(&published_at) ||
      !outer.Literal("}") || !outer.AtEnd()) {
    return std::nullopt;
  }

  Cursor inner(record);
  std::string body;
  std::string_view raw_body;
  std::optional<std::string_view> k, sig_text, ts_digits;
  int64_t ts = 0;
  if (!inner.Literal(R"({"body":")") || !inner.CanonicalBody(&body, &raw_body) ||
      !inner.Literal(R"(,"k":")") || !(k = inner.Hex(crypto::kPublicKeySize * 2, true)) ||
      !inner.Literal(R"(","p":"nb.chat.message.v1","sig":")") || !(sig_text = inner.Base64Url()) ||
      !inner.Literal(R"(","ts":)") || !(ts_digits = inner.SafeDigits(&ts)) || !inner.Literal("}") ||
      !inner.AtEnd()) {
    return std::nullopt;
  }
  // A record for another hub is shown unverified; a body the reference
  // would trim is signed in its trimmed form: both for the general path.
  if (*k != hub_id || body.empty() || !IsValidUtf8(body) || TrimJs(body).size() != body.size()) {
    return std::nullopt;
  }
  auto signature = Base64UrlDecode(*sig_text);
  if (!signature || signature->size() != crypto::kSignatureSize) return std::nullopt;

  // The reference's signed form, {body,k,p,ts} in canonical JSON.
  std::string signed_form;
  signed_form.reserve(raw_body.size() + 200);
  signed_form.append(R"({"body":")").append(raw_body).append(R"(","k":")").append(*k);
  signed_form.append(R"(","p":"nb.chat.message.v1","ts":)").append(*ts_digits).append("}");
  if (!hub_key.Verify(AsBytes(signed_form), *signature)) return std::nullopt;

  WrittenChat out;
  out.event.hash = hash;
  out.event.timestamp = published_at;
  out.event.block_refs = block_refs;
  out.event.app_payload = std::string(payload);
  out.message.event_hash = hash;
  out.message.published_at = published_at;
  out.message.ts = ts;
  out.message.body = std::move(body);
  out.message.verified = true;
  out.message.author_status = AuthorStatus::kHubMember;
  return out;
}

}  // namespace nb::apps::chat
