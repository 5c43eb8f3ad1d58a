#include "apps/files/content_check.h"

#include "apps/files/file_content.h"

namespace nb::apps::files {

ContentPresence CheckContentPresence(store::Store& store, const crypto::SymmetricKey& hub_key,
                                     const ContentRef& ref, ByteSpan wrapped_key) {
  ContentPresence out;
  out.blocks = 1;
  if (ref.kind == ContentRef::Kind::kSingle) {
    // One stat tells both (`ls -r` of a large hub makes one per file).
    auto block_size = store.BlockFileSize(ref.hash);
    if (!block_size.ok()) {
      out.missing = 1;
    } else if (*block_size >= crypto::kGcmOverhead) {
      out.size = *block_size - crypto::kGcmOverhead;
      out.size_known = true;
    }
    return out;
  }
  if (!store.HasBlock(ref.hash)) {
    out.missing = 1;
    return out;
  }
  // A manifest: open it to learn its chunks. One that cannot be read or
  // parsed (quarantined while reading, wrong key) leaves the file unreadable.
  auto fek = UnwrapFileKey(hub_key, wrapped_key);
  auto sealed = fek.ok() ? store.GetBlock(ref.hash) : Result<Bytes>(fek.error());
  auto plain = sealed.ok() ? crypto::AesGcmDecrypt(*fek, *sealed) : Result<Bytes>(sealed.error());
  uint64_t total = 0;
  auto chunks = plain.ok() ? ParseManifest(AsChars(*plain), &total)
                           : Result<std::vector<ManifestChunk>>(plain.error());
  if (!chunks.ok()) {
    out.missing = 1;
    return out;
  }
  out.size = total;
  out.size_known = true;
  for (const auto& chunk : *chunks) {
    ++out.blocks;
    if (!store.HasBlock(chunk.hash)) ++out.missing;
  }
  return out;
}

}  // namespace nb::apps::files
