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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/files/chunker.h"
#include "apps/files/content_ref.h"
#include "crypto/aead.h"
#include "store/store.h"

namespace nb::apps::files {

// What says a local file is still the one that was read: device, inode,
// size, modification and change times (the change time moves on every
// write, even one that puts the old modification time back).
struct FileStamp {
  bool regular = false;
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

struct StoredContent {
  ContentRef ref;
  uint64_t size = 0;        // plaintext bytes
  uint64_t new_blocks = 0;  // blocks this ingest added to the store
  uint64_t new_bytes = 0;   // their bytes on disk
  // The source kept changing while it was read (Ingestor::kReadAttempts
  // tries): `ref` and `size` mean nothing, nothing may be recorded for it.
  bool changed_while_reading = false;
  // Set when the source is a regular file that held still while read and
  // had not been modified in the moments before (so a later file with this
  // very stamp has this very content): what a put may remember about it.
  std::optional<FileStamp> settled_stamp;
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

// How a hub lays file contents out (apps/hub_settings.h decides which).
enum class ContentLayout {
  kChunked,      // content-defined chunks and a manifest above one chunk
  kSingleBlock,  // every file one block, as the reference software writes
};

// Ingests many files.
//
// kChunked: every core busy: the calling thread reads and cuts chunks,
// workers derive IVs, encrypt, hash and stage new blocks in a
// BatchPublisher. Files are pipelined across one another (ten thousand small
// files are not serialized), memory stays bounded whatever the file sizes,
// and results come back in input order. All new blocks are durable when
// IngestAll returns.
//
// kSingleBlock: each file becomes one block, streamed with flat memory: a
// first pass derives the IV (HMAC of the plaintext, as for chunks, so equal
// files are one block), a second encrypts into a temp file in blocks/ while
// hashing; the temp file is read back and checked (hash and GCM tag) before
// it is published under its name. Standard input is read once, under a
// random IV.
//
// A source that changes while it is read is detected: its size, mtime,
// ctime, device and inode before and after, the bytes actually read against
// the size (a short read when it shrinks), and, when its timestamps are too
// recent to tell a change within one clock tick, a second read compared by
// hash (in kSingleBlock the two passes are compared anyway). Such a source is
// read again, up to kReadAttempts times in all; after that its result carries
// `changed_while_reading` and no content: the caller records nothing for it.
// No result ever describes bytes that were not, at one moment, the file.
class Ingestor {
 public:
  struct Source {
    std::string path;  // "-" reads standard input
  };
  static constexpr int kReadAttempts = 3;

  Ingestor(store::Store& store, const crypto::SymmetricKey& hub_key, unsigned threads = 0,
           ContentLayout layout = ContentLayout::kChunked);
  ~Ingestor();
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // `progress` gets the cumulative plaintext bytes read (calling thread).
  // Errors (a source that cannot be opened, a store that cannot be written)
  // name the user's file, never a temp file.
  Result<std::vector<StoredContent>> IngestAll(const std::vector<Source>& sources,
                                               const std::function<void(uint64_t)>& progress);

  // For tests: called on the reading thread after every read of a source,
  // with the source's index, the attempt (0 first) and the bytes read so far
  // in this pass. Lets a test change the file at an exact point.
  using ReadHook = std::function<void(size_t source, int attempt, uint64_t offset)>;
  void SetReadHook(ReadHook hook) { read_hook_ = std::move(hook); }

 private:
  Result<std::vector<StoredContent>> IngestChunked(const std::vector<Source>& sources,
                                                   const std::function<void(uint64_t)>& progress);
  Result<std::vector<StoredContent>> IngestSingleBlocks(
      const std::vector<Source>& sources, const std::function<void(uint64_t)>& progress);

  // Buffers kept from one IngestAll to the next (a put calls it once per
  // slice): big buffers are costly to fault in again.
  struct Buffers;
  std::unique_ptr<Buffers> buffers_;

  store::Store& store_;
  crypto::SymmetricKey fek_;
  unsigned threads_;
  ContentLayout layout_;
  ReadHook read_hook_;
};

}  // namespace nb::apps::files
