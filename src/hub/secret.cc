#include "hub/secret.h"

namespace nb::hub {

Result<SecretMaterial> ParseSecret(std::string_view secret) {
  if (secret.empty()) return MakeError(ErrorCode::kInvalidArgument, "the secret is empty");
  SecretMaterial out;
  if (secret.substr(0, kFileSecretPrefix.size()) == kFileSecretPrefix) {
    auto raw = Base64UrlDecode(secret.substr(kFileSecretPrefix.size()));
    if (!raw || raw->empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the secret file form is not valid base64url after nb-file-secret:v1:");
    }
    out.bytes = std::move(*raw);
    return out;
  }
  out.bytes = ToBytes(secret);
  size_t colon = secret.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    out.display_name = std::string(secret.substr(0, colon));
  }
  return out;
}

}  // namespace nb::hub
