// Hub secrets (FORMAT.md §1): the UTF-8 bytes of the string, or, for a
// string starting "nb-file-secret:v1:", the b64url-decoded rest. A secret of
// the form "name:password" names its hub "name".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace nb::hub {

constexpr std::string_view kFileSecretPrefix = "nb-file-secret:v1:";

struct SecretMaterial {
  Bytes bytes;                              // the PBKDF2 password
  std::optional<std::string> display_name;  // text before the first colon
};

Result<SecretMaterial> ParseSecret(std::string_view secret);

}  // namespace nb::hub
