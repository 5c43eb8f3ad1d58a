#include "log/event.h"

#include "base/json_depth.h"

#include <array>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace nb::log {
namespace {

using Json = nlohmann::json;

void AppendEnvelope(std::string& out, const Envelope& envelope) {
  // Every value is hex or base64, so no JSON escaping is ever needed.
  out += R"({"version":"0.2","publicKey":")";
  out += envelope.public_key_hex;
  out += R"(","blockRefs":[)";
  for (size_t i = 0; i < envelope.block_refs.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    out += envelope.block_refs[i].Hex();
    out += '"';
  }
  out += R"(],"ciphertext":")";
  out += Base64Encode(envelope.ciphertext);
  out += R"("})";
}

std::string ToLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Error Reject(Rejection rejection, const std::string& why, Rejection* out) {
  if (out != nullptr) *out = rejection;
  ErrorCode code = ErrorCode::kCorrupt;
  return MakeError(code, std::string(RejectionCode(rejection)) + ": " + why);
}

}  // namespace

std::string SerializeEnvelope(const Envelope& envelope) {
  std::string out;
  out.reserve(200 + envelope.block_refs.size() * 67 + envelope.ciphertext.size() * 4 / 3);
  AppendEnvelope(out, envelope);
  return out;
}

Hash256 HashEnvelope(const Envelope& envelope) {
  return crypto::Sha256(AsBytes(SerializeEnvelope(envelope)));
}

std::string SerializeEventFile(const Envelope& envelope, ByteSpan signature) {
  std::string out = R"({"envelope":)";
  AppendEnvelope(out, envelope);
  out += R"(,"signature":")";
  out += Base64Encode(signature);
  out += R"("})";
  return out;
}

std::vector<Hash256> DedupBlockRefs(const std::vector<Hash256>& refs) {
  std::vector<Hash256> out;
  std::unordered_set<Hash256> seen;
  for (const auto& ref : refs) {
    if (seen.insert(ref).second) out.push_back(ref);
  }
  return out;
}

const char* RejectionCode(Rejection rejection) {
  switch (rejection) {
    case Rejection::kDeserializeFailed:
      return "event-deserialize-failed";
    case Rejection::kHashMismatch:
      return "event-hash-mismatch";
    case Rejection::kSignatureInvalid:
      return "event-signature-invalid";
    case Rejection::kWrongChannel:
      return "event-public-key-mismatch";
  }
  return "event-invalid";
}

Result<ParsedEvent> ParseEventFile(ByteSpan file) {
  auto fail = [](const std::string& why) {
    return Reject(Rejection::kDeserializeFailed, why, nullptr);
  };
  if (!JsonNestingAtMost(AsChars(file), kMaxEventJsonDepth)) {
    return fail("JSON nests deeper than " + std::to_string(kMaxEventJsonDepth) + " levels");
  }
  Json doc = Json::parse(file.begin(), file.end(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return fail("not a JSON object");
  auto env_it = doc.find("envelope");
  auto sig_it = doc.find("signature");
  if (env_it == doc.end() || !env_it->is_object()) return fail("no envelope object");
  if (sig_it == doc.end() || !sig_it->is_string()) return fail("no signature string");
  const Json& env = *env_it;

  auto version = env.find("version");
  if (version == env.end() || !version->is_string() || *version != kEnvelopeVersion) {
    return fail("envelope version is not \"0.2\"");
  }
  auto key = env.find("publicKey");
  if (key == env.end() || !key->is_string() || !IsHex(key->get_ref<const std::string&>(), 130)) {
    return fail("publicKey is not 130 hex digits");
  }
  auto refs = env.find("blockRefs");
  if (refs == env.end() || !refs->is_array()) return fail("blockRefs is not an array");
  auto ciphertext = env.find("ciphertext");
  if (ciphertext == env.end() || !ciphertext->is_string()) return fail("no ciphertext string");

  ParsedEvent parsed;
  parsed.envelope.public_key_hex = ToLower(key->get<std::string>());
  for (const auto& ref : *refs) {
    if (!ref.is_string()) return fail("a blockRef is not a string");
    auto hash = Hash256::FromHex(ref.get_ref<const std::string&>());
    if (!hash) return fail("a blockRef is not 64 hex digits");
    parsed.envelope.block_refs.push_back(*hash);
  }
  auto ct = Base64Decode(ciphertext->get_ref<const std::string&>());
  if (!ct) return fail("ciphertext is not base64");
  parsed.envelope.ciphertext = std::move(*ct);
  auto sig = Base64Decode(sig_it->get_ref<const std::string&>());
  if (!sig) return fail("signature is not base64");
  parsed.signature = std::move(*sig);
  return parsed;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not canonical
}

// Lower-case hex digits into `out` (2 per byte).
bool DecodeLowerHex(std::string_view hex, uint8_t* out) {
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Character -> base64 value (standard alphabet), -1 outside it.
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}();

int Base64Value(char c) { return kBase64Values[static_cast<uint8_t>(c)]; }

// Whether Base64Encode(Base64Decode(text)) == text: whole quads, padding
// only where needed, and the bits the padding leaves over all zero.
bool IsCanonicalBase64(std::string_view text) {
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  std::string_view data = text.substr(0, text.size() - pad);
  for (char c : data) {
    if (Base64Value(c) < 0) return false;
  }
  if (pad == 0) return true;
  int last = Base64Value(data.back());
  return (last & (pad == 1 ? 0x3 : 0xf)) == 0;
}

}  // namespace

std::optional<ParsedEvent> ParseCanonicalEventFile(ByteSpan file, Hash256* envelope_hash) {
  std::string_view text = AsChars(file);
  size_t pos = 0;
  auto literal = [&](std::string_view expected) {
    if (text.substr(pos, expected.size()) != expected) return false;
    pos += expected.size();
    return true;
  };
  // Up to the next '"' (not consumed); npos if there is none.
  auto until_quote = [&]() -> std::optional<std::string_view> {
    size_t end = text.find('"', pos);
    if (end == std::string_view::npos) return std::nullopt;
    std::string_view out = text.substr(pos, end - pos);
    pos = end;
    return out;
  };

  if (!literal(R"({"envelope":)")) return std::nullopt;
  const size_t envelope_begin = pos;
  ParsedEvent parsed;
  Envelope& envelope = parsed.envelope;
  if (!literal(R"({"version":"0.2","publicKey":")")) return std::nullopt;
  constexpr size_t kKeyDigits = crypto::kPublicKeySize * 2;
  if (text.size() - pos < kKeyDigits) return std::nullopt;
  envelope.public_key_hex = std::string(text.substr(pos, kKeyDigits));
  for (char c : envelope.public_key_hex) {
    if (HexValue(c) < 0) return std::nullopt;
  }
  pos += kKeyDigits;
  if (!literal(R"(","blockRefs":[)")) return std::nullopt;
  if (!literal("]")) {
    for (;;) {
      if (!literal("\"") || text.size() - pos < 64) return std::nullopt;
      Hash256 ref;
      if (!DecodeLowerHex(text.substr(pos, 64), ref.bytes.data())) return std::nullopt;
      envelope.block_refs.push_back(ref);
      pos += 64;
      if (!literal("\"")) return std::nullopt;
      if (literal("]")) break;
      if (!literal(",")) return std::nullopt;
    }
  }
  if (!literal(R"(,"ciphertext":")")) return std::nullopt;
  auto ciphertext = until_quote();
  if (!ciphertext || !IsCanonicalBase64(*ciphertext) || !literal(R"("})")) return std::nullopt;
  const size_t envelope_end = pos;
  if (!literal(R"(,"signature":")")) return std::nullopt;
  auto signature = until_quote();
  if (!signature || !literal(R"("})") || pos != text.size()) return std::nullopt;

  auto ct = Base64Decode(*ciphertext);
  auto sig = Base64Decode(*signature);
  if (!ct || !sig) return std::nullopt;
  envelope.ciphertext = std::move(*ct);
  parsed.signature = std::move(*sig);
  *envelope_hash = crypto::Sha256(file.subspan(envelope_begin, envelope_end - envelope_begin));
  return parsed;
}

Result<ValidEvent> ValidateEventFile(const crypto::PublicKey& channel_key,
                                     const Hash256& file_name_hash, ByteSpan file) {
  return ValidateEventFile(channel_key, file_name_hash, file, nullptr);
}

Result<ValidEvent> ValidateEventFile(const crypto::PublicKey& channel_key,
                                     const Hash256& file_name_hash, ByteSpan file,
                                     Rejection* rejection) {
  // Canonical files (nearly all) are parsed and hashed straight from their
  // bytes; the general parser reads the rest, as leniently as the reference.
  Hash256 hash;
  auto canonical = ParseCanonicalEventFile(file, &hash);
  Result<ParsedEvent> parsed =
      canonical ? Result<ParsedEvent>(std::move(*canonical)) : ParseEventFile(file);
  if (!parsed.ok()) {
    if (rejection != nullptr) *rejection = Rejection::kDeserializeFailed;
    return parsed.error();
  }
  if (!canonical) hash = HashEnvelope(parsed->envelope);
  if (hash != file_name_hash) {
    return Reject(Rejection::kHashMismatch,
                  "envelope hashes to " + hash.Hex() + ", not to its file name", rejection);
  }
  // Checked against the directory's key, so an event copied into another
  // hub's channel fails here, as in the reference.
  if (!channel_key.VerifyDigest(hash, parsed->signature)) {
    return Reject(Rejection::kSignatureInvalid, "signature does not verify", rejection);
  }
  if (parsed->envelope.public_key_hex != channel_key.Hex()) {
    return Reject(Rejection::kWrongChannel, "envelope publicKey differs from its channel",
                  rejection);
  }
  return ValidEvent{hash, std::move(parsed->envelope), std::move(parsed->signature)};
}

}  // namespace nb::log
