// One hub's append-only history: the event files under channels/<hub id>/ of
// every root of a store. Reads are validated (hash, signature, channel) and a
// file that fails is quarantined, never handed to a reading. Appends are
// signed with the hub key and published atomically; subscribers in this
// process hear about every event appended or imported through this log.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "log/event.h"
#include "store/batch_publisher.h"
#include "store/store.h"

namespace nb::log {

class HubLog {
 public:
  HubLog(store::Store* store, crypto::PublicKey key);

  const std::string& hub_id() const { return hub_id_; }
  const crypto::PublicKey& public_key() const { return key_; }
  store::Store& store() { return *store_; }

  // Hashes of well-named event files in every root, sorted, without validation.
  Result<std::vector<Hash256>> ListEventHashes() const;
  // Reads and validates one event. An invalid file is moved to quarantine and
  // reported as kCorrupt; a missing one as kNotFound.
  Result<ValidEvent> ReadEvent(const Hash256& hash);
  // Same, from bytes already read (e.g. by a parallel reader).
  Result<ValidEvent> ValidateAt(store::StorageRoot& root, const Hash256& hash, ByteSpan file);

  // Signs and publishes a new event in the primary root.
  Result<ValidEvent> Append(const crypto::PrivateKey& signing_key,
                            const std::vector<Hash256>& block_refs, Bytes ciphertext);
  // Signs an event and stages it in `batch`; it appears on batch.Commit().
  // Subscribers are told now: the event is part of this process's view.
  Result<ValidEvent> AppendStaged(const crypto::PrivateKey& signing_key,
                                  const std::vector<Hash256>& block_refs, Bytes ciphertext,
                                  store::BatchPublisher& batch);
  // Validates an event file received from elsewhere and publishes it in the
  // primary root. Returns false if it was already there.
  Result<bool> Import(const Hash256& hash, ByteSpan file);

  using Listener = std::function<void(const ValidEvent&)>;
  int Subscribe(Listener listener);
  void Unsubscribe(int id);

 private:
  void Notify(const ValidEvent& event);

  store::Store* store_;
  crypto::PublicKey key_;
  std::string hub_id_;
  std::mutex listeners_mu_;
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
};

}  // namespace nb::log

namespace nb::log {

struct RefusedEvent {
  Hash256 hash;
  std::string reason;
};

struct LoadedEvents {
  std::vector<ValidEvent> valid;      // sorted by hash
  std::vector<RefusedEvent> refused;  // invalid files, now in quarantine
};

// Reads and validates every event of the hub, using `threads` workers
// (0 = one per core). Invalid files are quarantined and listed in problems.
Result<LoadedEvents> LoadAllEvents(HubLog& log, unsigned threads = 0);

}  // namespace nb::log
