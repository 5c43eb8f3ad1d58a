#include "log/hub_log.h"

namespace nb::log {

HubLog::HubLog(store::Store* store, crypto::PublicKey key)
    : store_(store), key_(std::move(key)), hub_id_(key_.Hex()) {}

Result<std::vector<Hash256>> HubLog::ListEventHashes() const { return store_->ListEvents(hub_id_); }

Result<ValidEvent> HubLog::ValidateAt(store::StorageRoot& root, const Hash256& hash,
                                      ByteSpan file) {
  auto valid = ValidateEventFile(key_, hash, file);
  if (valid.ok()) return valid;
  auto moved = root.Quarantine(root.event_path(hub_id_, hash), valid.error().message);
  std::string where = moved.ok() ? "moved to " + moved->string() : "could not quarantine it";
  std::string message = "event " + hash.Hex() + " in " + root.path().string() + " is invalid (" +
                        valid.error().message + "); " + where;
  store_->ReportIncident(message);
  return MakeError(ErrorCode::kCorrupt, message);
}

Result<ValidEvent> HubLog::ReadEvent(const Hash256& hash) {
  std::optional<Error> corrupt;
  for (auto& root : store_->roots()) {
    auto bytes = root.ReadEventFile(hub_id_, hash);
    if (!bytes.ok()) {
      if (bytes.error().code == ErrorCode::kNotFound) continue;
      return bytes.error();
    }
    auto valid = ValidateAt(root, hash, *bytes);
    if (valid.ok()) return valid;
    corrupt = valid.error();  // another root may hold a good copy
  }
  if (corrupt) return *corrupt;
  return MakeError(ErrorCode::kNotFound, "event " + hash.Hex() + " is not in this hub");
}

namespace {

struct SignedFile {
  ValidEvent event;
  std::string file;
};

SignedFile SignEvent(const crypto::PrivateKey& signing_key, const std::string& hub_id,
                     const std::vector<Hash256>& block_refs, Bytes ciphertext) {
  Envelope envelope{hub_id, DedupBlockRefs(block_refs), std::move(ciphertext)};
  Hash256 hash = crypto::Sha256(AsBytes(SerializeEnvelope(envelope)));
  crypto::Signature signature = signing_key.SignDigest(hash);
  std::string file = SerializeEventFile(envelope, signature);
  return SignedFile{
      ValidEvent{hash, std::move(envelope), Bytes(signature.begin(), signature.end())},
      std::move(file)};
}

}  // namespace

Result<ValidEvent> HubLog::Append(const crypto::PrivateKey& signing_key,
                                  const std::vector<Hash256>& block_refs, Bytes ciphertext) {
  if (signing_key.public_key().bytes() != key_.bytes()) {
    return MakeError(ErrorCode::kInvalidArgument, "signing key does not belong to this hub");
  }
  SignedFile signed_file = SignEvent(signing_key, hub_id_, block_refs, std::move(ciphertext));
  NB_RETURN_IF_ERROR(
      store_->primary().WriteEventFile(hub_id_, signed_file.event.hash, AsBytes(signed_file.file)));
  Notify(signed_file.event);
  return std::move(signed_file.event);
}

Result<ValidEvent> HubLog::AppendStaged(const crypto::PrivateKey& signing_key,
                                        const std::vector<Hash256>& block_refs, Bytes ciphertext,
                                        store::BatchPublisher& batch) {
  if (signing_key.public_key().bytes() != key_.bytes()) {
    return MakeError(ErrorCode::kInvalidArgument, "signing key does not belong to this hub");
  }
  SignedFile signed_file = SignEvent(signing_key, hub_id_, block_refs, std::move(ciphertext));
  NB_RETURN_IF_ERROR(batch.StageEvent(hub_id_, signed_file.event.hash, AsBytes(signed_file.file)));
  Notify(signed_file.event);
  return std::move(signed_file.event);
}

Result<bool> HubLog::Import(const Hash256& hash, ByteSpan file) {
  NB_ASSIGN_OR_RETURN(ValidEvent event, ValidateEventFile(key_, hash, file));
  NB_ASSIGN_OR_RETURN(bool created, store_->primary().WriteEventFile(hub_id_, hash, file));
  if (created) Notify(event);
  return created;
}

int HubLog::Subscribe(Listener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  int id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void HubLog::Unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(id);
}

void HubLog::Notify(const ValidEvent& event) {
  std::vector<Listener> listeners;
  {
    std::lock_guard<std::mutex> lock(listeners_mu_);
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  for (const auto& listener : listeners) listener(event);
}

}  // namespace nb::log

#include "base/parallel.h"

namespace nb::log {

Result<LoadedEvents> LoadAllEvents(HubLog& log, unsigned threads) {
  NB_ASSIGN_OR_RETURN(std::vector<Hash256> hashes, log.ListEventHashes());
  std::vector<std::optional<Result<ValidEvent>>> results(hashes.size());
  ParallelFor(hashes.size(), threads, [&](size_t i) { results[i] = log.ReadEvent(hashes[i]); });

  LoadedEvents out;
  out.valid.reserve(hashes.size());
  for (size_t i = 0; i < hashes.size(); ++i) {
    auto& result = *results[i];
    if (result.ok()) {
      out.valid.push_back(std::move(*result));
    } else if (result.error().code != ErrorCode::kNotFound) {
      // kNotFound: deleted between listing and reading; nothing to report.
      out.refused.push_back(RefusedEvent{hashes[i], result.error().message});
    }
  }
  return out;
}

}  // namespace nb::log
