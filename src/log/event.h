// The event envelope (FORMAT.md §4), byte-compatible with the reference:
//
//   file     = {"envelope":<envelope>,"signature":"<b64 r||s>"}
//   envelope = {"version":"0.2","publicKey":"<hub id>","blockRefs":[...],"ciphertext":"<b64>"}
//   hash     = SHA-256(envelope bytes)   -- the signature is not hashed
//
// We write only the canonical bytes. Like the reference, we read leniently:
// the file is parsed and the envelope re-serialized canonically before
// hashing, so formatting, key order, hex case and extra fields do not matter.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ecdsa.h"
#include "crypto/sha256.h"

namespace nb::log {

using crypto::Hash256;

constexpr std::string_view kEnvelopeVersion = "0.2";

// Deepest nesting of arrays and objects we parse in an event file. An
// envelope nests 3 deep; extra fields (which the reference tolerates) get
// room to spare. A file beyond it is refused like one that is not JSON.
// (The file's size is bounded where it is read: store::kMaxEventFileSize.)
constexpr size_t kMaxEventJsonDepth = 64;

struct Envelope {
  std::string public_key_hex;  // lower-case, 130 digits
  std::vector<Hash256> block_refs;
  Bytes ciphertext;  // IV || ct || tag under the hub's symmetric key
};

// Canonical envelope JSON: the bytes that are hashed and signed.
std::string SerializeEnvelope(const Envelope& envelope);
Hash256 HashEnvelope(const Envelope& envelope);
// Canonical event file bytes.
std::string SerializeEventFile(const Envelope& envelope, ByteSpan signature);

// Removes repeated hashes, keeping the first occurrence (the writer's rule).
std::vector<Hash256> DedupBlockRefs(const std::vector<Hash256>& refs);

struct ParsedEvent {
  Envelope envelope;
  Bytes signature;  // 64-byte r||s, or DER as some readers accept
};

// Why an event file was refused; the names are the reference's reject codes.
enum class Rejection {
  kDeserializeFailed,  // not JSON, wrong version, malformed key or refs
  kHashMismatch,       // canonical envelope does not hash to the file name
  kSignatureInvalid,   // signature does not verify with the directory key
  kWrongChannel,       // envelope key differs from the directory
};
const char* RejectionCode(Rejection rejection);

struct ValidEvent {
  Hash256 hash;
  Envelope envelope;
  Bytes signature;
};

// Parses an event file without checking hash or signature.
Result<ParsedEvent> ParseEventFile(ByteSpan file);

// Parses a file holding exactly the canonical bytes (what we and the
// reference write: no whitespace, keys in order, lower-case hex, canonical
// padded base64 for the ciphertext). Its envelope's bytes are then a slice
// of the file, hashed as they are into `envelope_hash`: no JSON tree, no
// re-serialization. nullopt for any other file, which ParseEventFile and
// HashEnvelope handle; whenever this answers, they give the same answer.
std::optional<ParsedEvent> ParseCanonicalEventFile(ByteSpan file, Hash256* envelope_hash);

// Full validation against the channel it was found in and the name it had.
// On failure the error message starts with the reject code.
Result<ValidEvent> ValidateEventFile(const crypto::PublicKey& channel_key,
                                     const Hash256& file_name_hash, ByteSpan file);
Result<ValidEvent> ValidateEventFile(const crypto::PublicKey& channel_key,
                                     const Hash256& file_name_hash, ByteSpan file,
                                     Rejection* rejection);

}  // namespace nb::log
