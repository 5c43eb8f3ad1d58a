#include "apps/chat/chat_reading.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "apps/canonical_json.h"
#include "base/json_depth.h"
#include "base/parallel.h"

namespace nb::apps::chat {
namespace {

using Json = nlohmann::json;

const Json* Member(const Json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool IsString(const Json* value, std::string_view expected) {
  return value != nullptr && value->is_string() && value->get_ref<const std::string&>() == expected;
}

// The lower-case form of a 130-hex key, or nullopt.
std::optional<std::string> KeyHex(const Json* value) {
  if (value == nullptr || !value->is_string()) return std::nullopt;
  const std::string& text = value->get_ref<const std::string&>();
  if (!IsHex(text, crypto::kPublicKeySize * 2)) return std::nullopt;
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return c >= 'A' && c <= 'F' ? char(c - 'A' + 'a') : c; });
  return lower;
}

std::optional<Bytes> SignatureBytes(const Json* value) {
  if (value == nullptr || !value->is_string()) return std::nullopt;
  auto bytes = Base64UrlDecode(value->get_ref<const std::string&>());
  if (!bytes || bytes->empty()) return std::nullopt;
  return bytes;
}

Json UnsignedMessage(const std::string& body, const std::string& hub_id, int64_t ts) {
  Json record = Json::object();
  record["body"] = body;
  record["k"] = hub_id;
  record["p"] = std::string(kChatProtocol);
  record["ts"] = ts;
  return record;
}

bool ByTimeThenHash(const ChatMessage& a, const ChatMessage& b) {
  return std::tie(a.published_at, a.event_hash) < std::tie(b.published_at, b.event_hash);
}

std::string ShortId(const std::string& id) { return id.size() > 10 ? id.substr(2, 8) : id; }

}  // namespace

const char* AuthorStatusName(AuthorStatus status) {
  switch (status) {
    case AuthorStatus::kHubMember:
      return "hub-member";
    case AuthorStatus::kSigned:
      return "signed";
    case AuthorStatus::kUnsigned:
      return "unsigned";
    case AuthorStatus::kForged:
      return "forged";
  }
  return "unknown";
}

Result<std::string> NormalizeBody(std::string_view body) {
  if (body.size() > kMaxMessageBytes) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "the message is longer than 64 KiB; share long text as a file (nearbytes put)");
  }
  if (!IsValidUtf8(body)) {
    return MakeError(ErrorCode::kInvalidArgument, "the message is not valid UTF-8 text");
  }
  std::string_view trimmed = TrimJs(body);
  if (trimmed.empty()) return MakeError(ErrorCode::kInvalidArgument, "the message is empty");
  return std::string(trimmed);
}

Result<std::string> BuildChatRecord(const crypto::PrivateKey& hub_key, std::string_view body,
                                    int64_t ts_ms, const crypto::PrivateKey* identity_key) {
  NB_ASSIGN_OR_RETURN(std::string text, NormalizeBody(body));
  Json record = UnsignedMessage(text, hub_key.public_key().Hex(), ts_ms);
  crypto::Signature sig = hub_key.Sign(AsBytes(CanonicalJson(record)));
  if (identity_key != nullptr) {
    record["a"] = identity_key->public_key().Hex();
    crypto::Signature author_sig = identity_key->Sign(AsBytes(CanonicalJson(record)));
    record["as"] = Base64UrlEncode(author_sig);
  }
  record["sig"] = Base64UrlEncode(sig);
  return CanonicalJson(record);
}

Result<std::string> BuildChatPayload(const crypto::PrivateKey& hub_key, std::string_view body,
                                     int64_t ts_ms, const crypto::PrivateKey* identity_key) {
  NB_ASSIGN_OR_RETURN(std::string record, BuildChatRecord(hub_key, body, ts_ms, identity_key));
  return AppRecordPayload(kChatProtocol, record, hub_key.public_key().Hex(), ts_ms);
}

ChatDecode DecodeChatEvent(const crypto::PublicKey& hub_key, const DecodedEvent& event,
                           ChatMessage* out) {
  // Cheap filter first: most events are files.
  if (event.files || event.app_payload.find(kChatProtocol) == std::string::npos) {
    return ChatDecode::kNotChat;
  }
  Json payload = Json::parse(event.app_payload, nullptr, /*allow_exceptions=*/false);
  if (!payload.is_object()) return ChatDecode::kNotChat;
  const Json* record_text = nullptr;
  const Json* type = Member(payload, "type");
  if (IsString(type, "APP_RECORD") && IsString(Member(payload, "protocol"), kChatProtocol)) {
    record_text = Member(payload, "record");
  } else if (IsString(type, "CHAT_MESSAGE")) {
    record_text = Member(payload, "message");  // the reference's older payload type
  } else {
    return ChatDecode::kNotChat;
  }
  if (record_text == nullptr || !record_text->is_string()) return ChatDecode::kMalformed;
  const std::string& record_json = record_text->get_ref<const std::string&>();
  // The record is JSON inside a string: its escapes hide its nesting from
  // the payload's own check.
  if (!JsonNestingAtMost(record_json, files::kMaxPayloadJsonDepth)) {
    return ChatDecode::kMalformed;
  }
  Json record = Json::parse(record_json, nullptr, /*allow_exceptions=*/false);
  if (!record.is_object()) return ChatDecode::kMalformed;
  // The reference ignores records of another protocol version.
  if (!IsString(Member(record, "p"), kChatProtocol)) return ChatDecode::kNotChat;

  auto hub_id = KeyHex(Member(record, "k"));
  const Json* body = Member(record, "body");
  const Json* ts = Member(record, "ts");
  auto timestamp = ts != nullptr ? SafeTimestamp(*ts) : std::nullopt;
  const Json* sig = Member(record, "sig");
  if (!hub_id || body == nullptr || !body->is_string() || !timestamp || sig == nullptr ||
      !sig->is_string()) {
    return ChatDecode::kMalformed;
  }
  std::string_view text = TrimJs(body->get_ref<const std::string&>());
  if (text.empty()) return ChatDecode::kMalformed;

  ChatMessage message;
  message.event_hash = event.hash;
  message.published_at = event.timestamp;
  if (const Json* published = Member(payload, "publishedAt")) {
    if (auto value = SafeTimestamp(*published)) message.published_at = *value;
  }
  message.ts = *timestamp;
  message.body = std::string(text);

  // The hub signature, over the reference's rebuilt form or over the record
  // without sig; k must name this hub.
  auto signature = SignatureBytes(sig);
  if (signature && *hub_id == hub_key.Hex()) {
    std::string reference_form = CanonicalJson(UnsignedMessage(message.body, *hub_id, message.ts));
    message.verified = hub_key.Verify(AsBytes(reference_form), *signature);
    if (!message.verified) {
      Json without_sig = record;
      without_sig.erase("sig");
      std::string literal_form = CanonicalJson(without_sig);
      if (literal_form != reference_form) {
        message.verified = hub_key.Verify(AsBytes(literal_form), *signature);
      }
    }
  }

  // The author claim.
  const Json* author = Member(record, "a");
  const Json* author_sig = Member(record, "as");
  auto author_id = KeyHex(author);
  if (author_id) message.author_id = *author_id;
  if (author == nullptr && author_sig == nullptr) {
    message.author_status = AuthorStatus::kHubMember;
  } else if (author_sig == nullptr) {
    message.author_status = AuthorStatus::kUnsigned;
  } else {
    message.author_status = AuthorStatus::kForged;
    auto author_sig_bytes = SignatureBytes(author_sig);
    if (author_id && author_sig_bytes) {
      if (auto key = crypto::PublicKey::FromHex(*author_id); key.ok()) {
        Json signed_part = record;
        signed_part.erase("sig");
        signed_part.erase("as");
        if (key->Verify(AsBytes(CanonicalJson(signed_part)), *author_sig_bytes)) {
          message.author_status = AuthorStatus::kSigned;
        }
      }
    }
  }
  *out = std::move(message);
  return ChatDecode::kMessage;
}

ChatReading::ChatReading(crypto::PublicKey hub_key) : hub_key_(std::move(hub_key)) {}

ChatReading ChatReading::Replay(crypto::PublicKey hub_key, const std::vector<DecodedEvent>& events,
                                unsigned threads) {
  ChatReading reading(std::move(hub_key));
  std::vector<ChatDecode> status(events.size());
  std::vector<ChatMessage> messages(events.size());
  ParallelFor(events.size(), threads, [&](size_t i) {
    status[i] = DecodeChatEvent(reading.hub_key_, events[i], &messages[i]);
  });
  for (size_t i = 0; i < events.size(); ++i) {
    reading.Fold(events[i].hash, status[i], std::move(messages[i]), /*keep_sorted=*/false);
  }
  reading.Sort();
  return reading;
}

ChatReading ChatReading::FromMessages(crypto::PublicKey hub_key, std::vector<ChatMessage> messages,
                                      size_t skipped) {
  ChatReading reading(std::move(hub_key));
  for (const auto& message : messages) reading.seen_.insert(message.event_hash);
  reading.messages_ = std::move(messages);
  reading.skipped_ = skipped;
  return reading;
}

std::optional<ChatMessage> ChatReading::Apply(const DecodedEvent& event) {
  ChatMessage message;
  ChatDecode status = DecodeChatEvent(hub_key_, event, &message);
  return Fold(event.hash, status, std::move(message), /*keep_sorted=*/true);
}

std::optional<ChatMessage> ChatReading::Fold(const Hash256& hash, ChatDecode status,
                                             ChatMessage message, bool keep_sorted) {
  if (status == ChatDecode::kNotChat) return std::nullopt;
  if (!seen_.insert(hash).second) return std::nullopt;
  if (status == ChatDecode::kMalformed) {
    ++skipped_;
    return std::nullopt;
  }
  if (keep_sorted) {
    auto at = std::upper_bound(messages_.begin(), messages_.end(), message, ByTimeThenHash);
    return *messages_.insert(at, std::move(message));
  }
  messages_.push_back(std::move(message));
  return messages_.back();
}

void ChatReading::Sort() { std::sort(messages_.begin(), messages_.end(), ByTimeThenHash); }

AuthorView DescribeAuthor(const ChatMessage& message, const profile::ProfileReading& profiles) {
  AuthorView view;
  view.status = message.author_status;
  view.id = message.author_id;
  std::string who;  // the claimed identity as people see it
  if (!view.id.empty()) {
    if (const auto* known = profiles.Find(view.id)) {
      view.name = known->profile.display_name;
      who = *view.name;
      if (profiles.CountWithName(who) > 1) who += " (" + ShortId(view.id) + ")";
    } else {
      who = "member " + ShortId(view.id);
    }
  }
  switch (view.status) {
    case AuthorStatus::kHubMember:
      view.label = "hub member";
      break;
    case AuthorStatus::kSigned:
      view.label = who;
      break;
    case AuthorStatus::kUnsigned:
      view.label = who.empty() ? "hub member (unproven author claim)"
                               : "hub member (unproven claim: " + who + ")";
      break;
    case AuthorStatus::kForged:
      view.label = who.empty() ? "FORGED author" : "FORGED author (claims " + who + ")";
      break;
  }
  return view;
}

}  // namespace nb::apps::chat
