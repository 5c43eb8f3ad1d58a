#include "apps/files/reference_sharing.h"

#include "apps/files/chunker.h"
#include "crypto/aead.h"
#include "store/file_io.h"

namespace nb::apps::files {
namespace {

namespace fs = std::filesystem;

std::string MarkerName(const std::string& hub_id) {
  // A hub id is 130 hex digits; its first 32 name it well enough here.
  return "reference-shared-noticed-" + hub_id.substr(0, 32);
}

// Remembers the FILES head a search found nothing at, so a hub of many
// files is not searched again (a stat per file) until its files change.
std::string CheckedName(const std::string& hub_id) {
  return "reference-shared-checked-" + hub_id.substr(0, 32);
}

}  // namespace

uint64_t LargestChunkBlock() { return ChunkSizes{}.max + crypto::kGcmOverhead; }

bool HoldsReferenceSizedBlocks(const FilesReading& reading, store::Store& store) {
  const uint64_t limit = LargestChunkBlock();
  for (const auto& [path, file] : reading.files()) {
    if (file.content.kind != ContentRef::Kind::kSingle) continue;
    auto size = store.BlockSize(file.content.hash);
    if (size.ok() && *size > limit) return true;
  }
  return false;
}

std::optional<std::string> SharedWithReferenceNotice(hub::Hub& hub, const FilesReading& reading,
                                                     const HubSettings& settings) {
  if (settings.reference_compatible) return std::nullopt;
  store::StorageRoot& root = hub.store().primary();
  std::error_code ec;
  if (std::filesystem::exists(root.state_dir() / MarkerName(hub.id()), ec)) return std::nullopt;
  auto head = reading.observed_head();
  std::string head_text = head ? head->Hex() : std::string("none");
  fs::path checked = root.state_dir() / CheckedName(hub.id());
  auto last = store::ReadFileBytes(checked, 256);
  if (last.ok() && std::string(last->begin(), last->end()) == head_text) return std::nullopt;
  if (!HoldsReferenceSizedBlocks(reading, hub.store())) {
    if (store::EnsureDirectory(root.state_dir()).ok()) {
      // Replaced in place: a torn write only costs one more search.
      std::error_code ignored;
      std::filesystem::remove(checked, ignored);
      (void)store::AtomicPublish(root.state_dir(), CheckedName(hub.id()), AsBytes(head_text));
    }
    return std::nullopt;
  }
  // Remembered first; a store we cannot write to repeats the notice.
  if (store::EnsureDirectory(root.state_dir()).ok()) {
    (void)store::AtomicPublish(root.state_dir(), MarkerName(hub.id()), AsBytes("noticed\n"));
  }
  return "this hub holds files written as one large block, so it looks shared with the "
         "reference Nearbytes software, which cannot read the chunked files this hub writes "
         "by default; to write every file as one block: nearbytes hub set "
         "reference-compatible on (said once)";
}

void NoteSearchAfterWrites(hub::Hub& hub, const std::optional<Hash256>& head_before,
                           const std::optional<Hash256>& head_after,
                           const std::vector<Hash256>& single_blocks) {
  if (head_after == head_before) return;
  store::StorageRoot& root = hub.store().primary();
  std::string before_text = head_before ? head_before->Hex() : std::string("none");
  fs::path checked = root.state_dir() / CheckedName(hub.id());
  auto last = store::ReadFileBytes(checked, 256);
  if (!last.ok() || std::string(last->begin(), last->end()) != before_text) return;
  const uint64_t limit = LargestChunkBlock();
  for (const auto& block : single_blocks) {
    auto size = hub.store().BlockSize(block);
    if (!size.ok() || *size > limit) return;  // the next command searches
  }
  std::string after_text = head_after ? head_after->Hex() : std::string("none");
  std::error_code ignored;
  std::filesystem::remove(checked, ignored);
  (void)store::AtomicPublish(root.state_dir(), CheckedName(hub.id()), AsBytes(after_text));
}

}  // namespace nb::apps::files
