// A direct decoder for chat events in the exact shape writers produce
// (BuildChatPayload here, the reference's serialization.ts): a cold replay
// of a chat-heavy hub otherwise parses each payload three times with a
// general JSON parser (DecodeEvent, KindOf, DecodeChatEvent), rebuilds the
// signed record as a JSON tree and re-serializes it, which together cost
// more than the two signature checks each message needs.
//
// Accepted, byte for byte (no whitespace, keys in this order):
//
//   {"type":"APP_RECORD","protocol":"nb.chat.message.v1","record":"<R>",
//    "authorPublicKey":"<130 hex>","publishedAt":<digits>}
//
// where <R>, once its only escapes (\" and \\) are undone, is
//
//   {"body":"<B>","k":"<130 lower-case hex>","p":"nb.chat.message.v1",
//    "sig":"<b64url of 64 bytes>","ts":<digits>}
//
// <B> is valid UTF-8, already trimmed and non-empty, escaped exactly as
// CanonicalJson escapes (so the record's bytes between "body": and ,"k" are
// the canonical JSON of the body); numbers are 1 to 15 digits without a
// leading zero (safe integers); k is this hub; and sig verifies over
// {"body":<B>,"k":..,"p":..,"ts":..}. Anything else — an author claim,
// extra or reordered fields, other escapes, a record whose signature fails
// — is not decided here: the caller takes the general path (DecodeEvent,
// DecodeChatEvent), which stays the definition. Whenever this decoder
// answers, its answer equals the general path's (tests/unit/
// written_chat_test.cc checks that over many generated payloads).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "apps/chat/chat_reading.h"

namespace nb::apps::chat {

struct WrittenChat {
  DecodedEvent event;   // as files::DecodeEvent gives it
  ChatMessage message;  // as DecodeChatEvent gives it (verified, hub member)
};

// `hub_id` is hub_key's hex (callers have it; computing it per event costs).
// Pure: safe to call from several threads.
std::optional<WrittenChat> DecodeWrittenChat(const crypto::PublicKey& hub_key,
                                             std::string_view hub_id, const Hash256& hash,
                                             const std::vector<Hash256>& block_refs,
                                             std::string_view payload);

}  // namespace nb::apps::chat
