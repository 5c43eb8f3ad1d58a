// A person's identity (FORMAT.md §6): a keypair derived from the person's
// own identity secret exactly like a hub key (FORMAT.md §1). The identity id
// is the 130-hex public key. The secret lives in $NEARBYTES_HOME/identity,
// mode 0600, never in a hub: it is who you are in every hub you write to.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"
#include "crypto/ecdsa.h"

namespace nb::apps::profile {

struct Identity {
  std::string id;  // lower-case hex of the public key, 130 digits
  crypto::PrivateKey signing_key;
};

// $NEARBYTES_HOME/identity (see hub/home.h).
std::filesystem::path DefaultIdentityPath();

// A fresh random secret in the secret-file form: "nb-file-secret:v1:" and
// 32 random bytes in b64url.
std::string GenerateIdentitySecret();

// Derives the identity of a secret (any form hub::ParseSecret accepts).
// Derivation costs one 100k-iteration PBKDF2, so results are cached for the
// life of the process (keyed by a digest of the secret, not the secret).
Result<Identity> IdentityFromSecret(std::string_view secret);

// Writes `secret` to `path` with mode 0600, atomically: a reader sees the old
// file or the new one, never a part. Without `overwrite`, an existing file is
// an error (kInvalidArgument) and stays untouched. Creates the parent
// directory (mode 0700) if missing.
Status WriteIdentityFile(const std::filesystem::path& path, std::string_view secret,
                         bool overwrite);

// Reads the secret (one trailing newline ignored). kNotFound if there is no
// file; an error if the file is readable by group or others (as ssh does).
Result<std::string> ReadIdentityFile(const std::filesystem::path& path);

// ReadIdentityFile + IdentityFromSecret.
Result<Identity> LoadIdentity(const std::filesystem::path& path);

}  // namespace nb::apps::profile
