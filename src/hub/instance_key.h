// This installation's own key: one P-256 key per home ($NEARBYTES_HOME),
// generated on first use and kept in `instance.key` (0600). Peers know a
// device by it (TLS certificates are made from it); it signs nothing of a
// hub and is not a member identity.
#pragma once

#include <filesystem>

#include "base/status.h"
#include "crypto/ecdsa.h"

namespace nb::hub {

// Loads `home/instance.key`, or creates it (durably, 0600) if missing. A file
// readable by others or not holding a valid scalar is an error, never
// silently replaced: peers that know this device would no longer recognise it.
Result<crypto::PrivateKey> LoadOrCreateInstanceKey(const std::filesystem::path& home);

}  // namespace nb::hub
