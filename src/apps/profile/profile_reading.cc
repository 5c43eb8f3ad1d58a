#include "apps/profile/profile_reading.h"

#include <nlohmann/json.hpp>

#include "apps/canonical_json.h"
#include "base/json_depth.h"
#include "base/parallel.h"

namespace nb::apps::profile {
namespace {

using Json = nlohmann::json;

Json UnsignedRecord(const std::string& id, const ProfileFields& profile, int64_t ts) {
  Json fields = Json::object();
  fields["displayName"] = profile.display_name;
  if (profile.bio) fields["bio"] = *profile.bio;
  Json record = Json::object();
  record["k"] = id;
  record["p"] = std::string(kIdentityRecordProtocol);
  record["profile"] = std::move(fields);
  record["ts"] = ts;
  return record;
}

const Json* Member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool IsString(const Json* value, std::string_view expected) {
  return value != nullptr && value->is_string() && value->get_ref<const std::string&>() == expected;
}

}  // namespace

Result<ProfileFields> NormalizeProfile(std::string_view display_name,
                                       std::optional<std::string_view> bio) {
  if (!IsValidUtf8(display_name) || (bio && !IsValidUtf8(*bio))) {
    return MakeError(ErrorCode::kInvalidArgument, "the profile is not valid UTF-8 text");
  }
  ProfileFields out;
  out.display_name = std::string(TrimJs(display_name));
  if (out.display_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the display name is empty");
  }
  if (bio) {
    std::string_view trimmed = TrimJs(*bio);
    if (!trimmed.empty()) out.bio = std::string(trimmed);
  }
  return out;
}

std::string BuildIdentityRecord(const crypto::PrivateKey& identity_key,
                                const ProfileFields& profile, int64_t ts_ms) {
  Json record = UnsignedRecord(identity_key.public_key().Hex(), profile, ts_ms);
  crypto::Signature sig = identity_key.Sign(AsBytes(CanonicalJson(record)));
  record["sig"] = Base64UrlEncode(sig);
  return CanonicalJson(record);
}

std::string BuildIdentityPayload(const crypto::PrivateKey& identity_key, const std::string& hub_id,
                                 const ProfileFields& profile, int64_t ts_ms) {
  return AppRecordPayload(kIdentityRecordProtocol,
                          BuildIdentityRecord(identity_key, profile, ts_ms), hub_id, ts_ms);
}

namespace {

// Checks one identity record object. On kValid sets id, profile and ts of
// `out`, and `canonical_sig` to the signature re-encoded as plain b64url.
RecordStatus CheckRecord(const Json& record, IdentityProfile* out, std::string* canonical_sig) {
  if (!record.is_object()) return RecordStatus::kMalformed;
  const Json* k = Member(record, "k");
  const Json* ts = Member(record, "ts");
  const Json* fields = Member(record, "profile");
  const Json* sig = Member(record, "sig");
  if (!IsString(Member(record, "p"), kIdentityRecordProtocol) || k == nullptr || !k->is_string() ||
      ts == nullptr || fields == nullptr || !fields->is_object() || sig == nullptr ||
      !sig->is_string()) {
    return RecordStatus::kMalformed;
  }
  auto key_bytes = HexDecode(k->get_ref<const std::string&>());
  auto timestamp = SafeTimestamp(*ts);
  if (!key_bytes || key_bytes->size() != crypto::kPublicKeySize || !timestamp) {
    return RecordStatus::kMalformed;
  }
  const Json* name = Member(*fields, "displayName");
  const Json* bio = Member(*fields, "bio");
  if (name == nullptr || !name->is_string() || (bio != nullptr && !bio->is_string())) {
    return RecordStatus::kMalformed;
  }
  std::optional<std::string_view> bio_text;
  if (bio != nullptr) bio_text = bio->get_ref<const std::string&>();
  auto normalized = NormalizeProfile(name->get_ref<const std::string&>(), bio_text);
  if (!normalized.ok()) return RecordStatus::kMalformed;
  auto signature = Base64UrlDecode(sig->get_ref<const std::string&>());
  if (!signature || signature->empty()) return RecordStatus::kMalformed;

  auto key = crypto::PublicKey::FromBytes(*key_bytes);
  if (!key.ok()) return RecordStatus::kBadSignature;
  std::string id = key->Hex();
  std::string signed_bytes = CanonicalJson(UnsignedRecord(id, *normalized, *timestamp));
  if (!key->Verify(AsBytes(signed_bytes), *signature)) return RecordStatus::kBadSignature;

  out->id = std::move(id);
  out->profile = std::move(*normalized);
  out->ts = *timestamp;
  *canonical_sig = Base64UrlEncode(*signature);
  return RecordStatus::kValid;
}

// The reference's hub-scoped copy of a record (nb.identity.snapshot.v1):
// {"k":id,"p":...,"record":<record object>,"ref":{"channel":id,"eventHash":H},
//  "sig":<identity signature over the rest, record normalized>,"ts":MS}.
RecordStatus CheckSnapshot(const Json& snapshot, IdentityProfile* out) {
  if (!snapshot.is_object() || !IsString(Member(snapshot, "p"), kIdentitySnapshotProtocol)) {
    return RecordStatus::kMalformed;
  }
  const Json* k = Member(snapshot, "k");
  const Json* ts = Member(snapshot, "ts");
  const Json* ref = Member(snapshot, "ref");
  const Json* record = Member(snapshot, "record");
  const Json* sig = Member(snapshot, "sig");
  if (k == nullptr || !k->is_string() || ts == nullptr || ref == nullptr || !ref->is_object() ||
      record == nullptr || sig == nullptr || !sig->is_string()) {
    return RecordStatus::kMalformed;
  }
  const Json* channel = Member(*ref, "channel");
  const Json* ref_hash = Member(*ref, "eventHash");
  auto timestamp = SafeTimestamp(*ts);
  auto signature = Base64UrlDecode(sig->get_ref<const std::string&>());
  if (channel == nullptr || !channel->is_string() || ref_hash == nullptr ||
      !ref_hash->is_string() || !IsHex(ref_hash->get_ref<const std::string&>(), 64) || !timestamp ||
      !signature || signature->empty()) {
    return RecordStatus::kMalformed;
  }
  std::string record_sig;
  RecordStatus inner = CheckRecord(*record, out, &record_sig);
  if (inner != RecordStatus::kValid) return inner;
  auto lower = [](std::string text) {
    for (char& c : text) {
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
  };
  if (lower(k->get<std::string>()) != out->id || lower(channel->get<std::string>()) != out->id) {
    return RecordStatus::kMalformed;
  }
  Json normalized = UnsignedRecord(out->id, out->profile, out->ts);
  normalized["sig"] = record_sig;
  Json unsigned_snapshot = Json::object();
  unsigned_snapshot["k"] = out->id;
  unsigned_snapshot["p"] = std::string(kIdentitySnapshotProtocol);
  unsigned_snapshot["record"] = std::move(normalized);
  unsigned_snapshot["ref"] =
      Json{{"channel", out->id}, {"eventHash", lower(ref_hash->get<std::string>())}};
  unsigned_snapshot["ts"] = *timestamp;
  auto key = crypto::PublicKey::FromHex(out->id);
  if (!key.ok() || !key->Verify(AsBytes(CanonicalJson(unsigned_snapshot)), *signature)) {
    return RecordStatus::kBadSignature;
  }
  return RecordStatus::kValid;
}

}  // namespace

RecordStatus CheckIdentityEvent(const DecodedEvent& event, IdentityProfile* out) {
  // Cheap filter first: most events are files or chat.
  if (event.files || event.app_payload.find("nb.identity.") == std::string::npos) {
    return RecordStatus::kNotIdentity;
  }
  Json payload = Json::parse(event.app_payload, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object() || !IsString(Member(payload, "type"), "APP_RECORD")) {
    return RecordStatus::kNotIdentity;
  }
  const Json* protocol = Member(payload, "protocol");
  bool snapshot = IsString(protocol, kIdentitySnapshotProtocol);
  if (!snapshot && !IsString(protocol, kIdentityRecordProtocol)) return RecordStatus::kNotIdentity;
  const Json* record_text = Member(payload, "record");
  if (record_text == nullptr || !record_text->is_string()) return RecordStatus::kMalformed;
  const std::string& record_json = record_text->get_ref<const std::string&>();
  // The record is JSON inside a string: its escapes hide its nesting from
  // the payload's own check.
  if (!JsonNestingAtMost(record_json, files::kMaxPayloadJsonDepth)) {
    return RecordStatus::kMalformed;
  }
  Json record = Json::parse(record_json, nullptr, /*allow_exceptions=*/false);
  RecordStatus status;
  if (snapshot) {
    status = CheckSnapshot(record, out);
  } else {
    std::string unused;
    status = CheckRecord(record, out, &unused);
  }
  if (status == RecordStatus::kValid) out->event_hash = event.hash;
  return status;
}

ProfileReading ProfileReading::Replay(const std::vector<DecodedEvent>& events, unsigned threads) {
  std::vector<RecordStatus> status(events.size());
  std::vector<IdentityProfile> profiles(events.size());
  ParallelFor(events.size(), threads,
              [&](size_t i) { status[i] = CheckIdentityEvent(events[i], &profiles[i]); });
  ProfileReading reading;
  for (size_t i = 0; i < events.size(); ++i) {
    reading.Fold(events[i].hash, status[i], std::move(profiles[i]));
  }
  return reading;
}

bool ProfileReading::Apply(const DecodedEvent& event) {
  IdentityProfile profile;
  RecordStatus status = CheckIdentityEvent(event, &profile);
  return Fold(event.hash, status, std::move(profile));
}

bool ProfileReading::Fold(const Hash256& hash, RecordStatus status, IdentityProfile profile) {
  if (status == RecordStatus::kNotIdentity) return false;
  if (!seen_.insert(hash).second) return false;
  if (status != RecordStatus::kValid) {
    ++rejected_;
    return false;
  }
  auto it = identities_.find(profile.id);
  if (it != identities_.end()) {
    const IdentityProfile& current = it->second;
    if (std::tie(profile.ts, profile.event_hash) <= std::tie(current.ts, current.event_hash)) {
      return false;
    }
    auto count = name_counts_.find(current.profile.display_name);
    if (--count->second == 0) name_counts_.erase(count);
    ++name_counts_[profile.profile.display_name];
    it->second = std::move(profile);
    return true;
  }
  ++name_counts_[profile.profile.display_name];
  std::string id = profile.id;
  identities_.emplace(std::move(id), std::move(profile));
  return true;
}

const IdentityProfile* ProfileReading::Find(std::string_view id) const {
  auto it = identities_.find(std::string(id));
  return it == identities_.end() ? nullptr : &it->second;
}

size_t ProfileReading::CountWithName(std::string_view display_name) const {
  auto it = name_counts_.find(display_name);
  return it == name_counts_.end() ? 0 : it->second;
}

}  // namespace nb::apps::profile
