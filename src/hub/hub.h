// A hub: one secret, one append-only history. HubKeys is what a secret
// yields; Hub binds those keys to a store's log of that hub.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/progress.h"
#include "crypto/aead.h"
#include "crypto/ecdsa.h"
#include "crypto/keys.h"
#include "hub/secret.h"
#include "log/hub_log.h"
#include "store/store.h"

namespace nb::hub {

class HubKeys {
 public:
  // Derives the keys (one 100k-iteration PBKDF2: about 50 ms).
  static Result<HubKeys> FromSecret(std::string_view secret);

  const std::string& id() const { return id_; }
  // The secret's display name if it has one, else a short form of the id.
  std::string display_name() const;
  const std::optional<std::string>& secret_name() const { return secret_name_; }
  const crypto::PrivateKey& signing_key() const { return keys_.signing_key; }
  const crypto::PublicKey& public_key() const { return keys_.signing_key.public_key(); }
  const crypto::SymmetricKey& symmetric_key() const { return keys_.symmetric_key; }

  // Encrypts an inner payload under the hub key (random IV).
  Bytes SealPayload(std::string_view payload_json) const;
  // Decrypts an event's ciphertext to its payload JSON text.
  Result<std::string> OpenPayload(ByteSpan ciphertext) const;

 private:
  HubKeys(crypto::DerivedKeys keys, std::optional<std::string> name);
  crypto::DerivedKeys keys_;
  std::string id_;
  std::optional<std::string> secret_name_;
};

class Hub {
 public:
  // Opens the hub of `keys` in `store`. Without `create`, a store that holds
  // no channel for this hub is an error that says so.
  static Result<std::unique_ptr<Hub>> Open(store::Store* store, HubKeys keys, bool create);

  const HubKeys& keys() const { return keys_; }
  const std::string& id() const { return keys_.id(); }
  log::HubLog& log() { return log_; }
  store::Store& store() { return log_.store(); }

  // Encrypts `payload_json`, signs and appends it with the given refs.
  Result<log::ValidEvent> AppendPayload(std::string_view payload_json,
                                        const std::vector<crypto::Hash256>& block_refs);
  // Same, staged in `batch` (visible once the batch commits).
  Result<log::ValidEvent> AppendPayloadStaged(std::string_view payload_json,
                                              const std::vector<crypto::Hash256>& block_refs,
                                              store::BatchPublisher& batch);
  Result<std::string> DecryptPayload(const log::ValidEvent& event) const {
    return keys_.OpenPayload(event.envelope.ciphertext);
  }

  // Who watches long replays of this hub (a cold open verifying many
  // events: Begin with the events to verify as files, AddFiles as they are
  // verified); nullptr (the default): nobody. Whoever sets it keeps it alive
  // while the hub is used.
  void set_replay_progress(ProgressObserver* progress) { replay_progress_ = progress; }
  ProgressObserver* replay_progress() const { return replay_progress_; }

 private:
  Hub(store::Store* store, HubKeys keys);
  HubKeys keys_;
  log::HubLog log_;
  ProgressObserver* replay_progress_ = nullptr;
};

}  // namespace nb::hub
