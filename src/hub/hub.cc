#include "hub/hub.h"

namespace nb::hub {

HubKeys::HubKeys(crypto::DerivedKeys keys, std::optional<std::string> name)
    : keys_(std::move(keys)),
      id_(keys_.signing_key.public_key().Hex()),
      secret_name_(std::move(name)) {}

Result<HubKeys> HubKeys::FromSecret(std::string_view secret) {
  NB_ASSIGN_OR_RETURN(SecretMaterial material, ParseSecret(secret));
  NB_ASSIGN_OR_RETURN(crypto::DerivedKeys keys, crypto::DeriveKeys(material.bytes));
  return HubKeys(std::move(keys), std::move(material.display_name));
}

std::string HubKeys::display_name() const {
  if (secret_name_) return *secret_name_;
  return "hub " + id_.substr(2, 8);
}

Bytes HubKeys::SealPayload(std::string_view payload_json) const {
  return crypto::AesGcmEncrypt(keys_.symmetric_key, AsBytes(payload_json));
}

Result<std::string> HubKeys::OpenPayload(ByteSpan ciphertext) const {
  NB_ASSIGN_OR_RETURN(Bytes plain, crypto::AesGcmDecrypt(keys_.symmetric_key, ciphertext));
  return std::string(plain.begin(), plain.end());
}

Hub::Hub(store::Store* store, HubKeys keys)
    : keys_(std::move(keys)), log_(store, keys_.public_key()) {}

Result<std::unique_ptr<Hub>> Hub::Open(store::Store* store, HubKeys keys, bool create) {
  std::string id = keys.id();
  bool present = false;
  for (const auto& root : store->roots()) {
    std::error_code ec;
    if (std::filesystem::is_directory(root.channel_dir(id), ec)) present = true;
  }
  if (!present) {
    if (!create) {
      return MakeError(ErrorCode::kNotFound,
                       "no hub for this secret in " + store->primary().path().string() + " (hub " +
                           id.substr(0, 16) +
                           "...); check the secret, or create it with `nearbytes hub create`");
    }
    NB_RETURN_IF_ERROR(store->primary().CreateChannel(id));
  }
  return std::unique_ptr<Hub>(new Hub(store, std::move(keys)));
}

Result<log::ValidEvent> Hub::AppendPayload(std::string_view payload_json,
                                           const std::vector<crypto::Hash256>& block_refs) {
  return log_.Append(keys_.signing_key(), block_refs, keys_.SealPayload(payload_json));
}

Result<log::ValidEvent> Hub::AppendPayloadStaged(std::string_view payload_json,
                                                 const std::vector<crypto::Hash256>& block_refs,
                                                 store::BatchPublisher& batch) {
  return log_.AppendStaged(keys_.signing_key(), block_refs, keys_.SealPayload(payload_json), batch);
}

}  // namespace nb::hub
