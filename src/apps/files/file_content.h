// File contents in a hub (FORMAT.md §3): writing (chunk, encrypt,
// deduplicate, store) and reading (streamed, verified).
//
// Dedup, readable by every client: one file key (FEK) per hub, derived, not
// random — FEK = HKDF-SHA256(IKM = hub key, salt = "", info =
// "nb-dedup-fek-v1") — and each block's IV derived from its plaintext —
// IV = HMAC-SHA256(FEK, plaintext)[0..12). The same chunk stored twice in a
// hub is therefore the same block. The payload's wrappedKey still wraps the
// FEK under the hub key with a random IV, so the reference reader decrypts
// as usual.
//
// Content over one chunk is a manifest block (encrypted with the FEK) of
// {"p":"nb.manifest.v1","k":"file-chunks","s":SIZE,"ch":[{"h":HASH,"z":N}..]}.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "apps/files/chunker.h"
#include "apps/files/content_ref.h"
#include "crypto/aead.h"
#include "store/store.h"

namespace nb::apps::files {

struct StoredContent {
  ContentRef ref;
  uint64_t size = 0;        // plaintext bytes
  uint64_t new_blocks = 0;  // blocks this ingest added to the store
  uint64_t new_bytes = 0;   // their bytes on disk
};

crypto::SymmetricKey DedupFileKey(const crypto::SymmetricKey& hub_key);
// wrappedKey for a payload: AES-GCM(hub key, FEK), random IV (60 bytes).
Bytes WrapFileKey(const crypto::SymmetricKey& hub_key, const crypto::SymmetricKey& fek);
// An empty wrappedKey is the reference's legacy form: the hub key itself.
Result<crypto::SymmetricKey> UnwrapFileKey(const crypto::SymmetricKey& hub_key, ByteSpan wrapped);

// Streams the plaintext to `sink`, verifying every block's hash and tag and
// the manifest's sizes. Memory: about two chunks. Nothing is passed to the
// sink past the first bad block.
Status ReadContent(store::Store& store, const crypto::SymmetricKey& hub_key, const ContentRef& ref,
                   ByteSpan wrapped_key, const std::function<Status(ByteSpan)>& sink);
// Plaintext size: the block size less 28, or the manifest's total.
Result<uint64_t> ContentSize(store::Store& store, const crypto::SymmetricKey& hub_key,
                             const ContentRef& ref, ByteSpan wrapped_key);

// Bounds on a manifest (rules of the reading: content beyond them is
// unreadable, reported as corrupt). Only our writer makes manifests; it
// cuts chunks of at most ChunkSizes{}.max = 4 MiB, about 1 MiB on average.
// 2^20 chunks cover files of about 1 TiB; their manifest JSON is about
// 90 MiB, under kMaxManifestBytes.
constexpr uint64_t kMaxChunkBytes = 4 << 20;
constexpr size_t kMaxManifestChunks = size_t{1} << 20;
constexpr uint64_t kMaxManifestBytes = 96 << 20;
constexpr size_t kMaxManifestJsonDepth = 8;  // a manifest nests 3 deep

// Parses and checks a decrypted manifest: the bounds above, every chunk
// size at least 1, and the sizes adding up to "s".
struct ManifestChunk {
  crypto::Hash256 hash;
  uint64_t size = 0;
};
Result<std::vector<ManifestChunk>> ParseManifest(std::string_view json, uint64_t* total_size);

// Ingests many files with every core busy: the calling thread reads and
// cuts chunks, workers derive IVs, encrypt, hash and stage new blocks in a
// BatchPublisher. Files are pipelined across one another (ten thousand
// small files are not serialized), memory stays bounded whatever the file
// sizes, and results come back in input order. All new blocks are durable
// when IngestAll returns.
class Ingestor {
 public:
  struct Source {
    std::string path;  // "-" reads standard input
  };
  Ingestor(store::Store& store, const crypto::SymmetricKey& hub_key, unsigned threads = 0);

  // `progress` gets the cumulative plaintext bytes read (calling thread).
  Result<std::vector<StoredContent>> IngestAll(const std::vector<Source>& sources,
                                               const std::function<void(uint64_t)>& progress);

 private:
  store::Store& store_;
  crypto::SymmetricKey fek_;
  unsigned threads_;
};

}  // namespace nb::apps::files
