#include "log/event.h"

#include "base/json_depth.h"

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

Result<ValidEvent> ValidateEventFile(const crypto::PublicKey& channel_key,
                                     const Hash256& file_name_hash, ByteSpan file) {
  return ValidateEventFile(channel_key, file_name_hash, file, nullptr);
}

Result<ValidEvent> ValidateEventFile(const crypto::PublicKey& channel_key,
                                     const Hash256& file_name_hash, ByteSpan file,
                                     Rejection* rejection) {
  auto parsed = ParseEventFile(file);
  if (!parsed.ok()) {
    if (rejection != nullptr) *rejection = Rejection::kDeserializeFailed;
    return parsed.error();
  }
  Hash256 hash = HashEnvelope(parsed->envelope);
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
