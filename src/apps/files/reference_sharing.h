// Does a hub look shared with the reference software?
//
// The reference writes every file as one block; our chunked writer never
// makes a block larger than one chunk (ChunkSizes::max) plus the GCM
// overhead. A live single-block file whose block is larger than that was
// therefore written by the reference (or by a reference-compatible hub of
// ours): someone opens this hub with the reference software, which cannot
// read our chunked files. A hub in reference-compatible mode writes no
// chunks, so it is never told.
//
// The user is told once per store and hub: a marker file in the store's
// local state (<primary>/.nearbytes/, never synced) remembers that the notice
// was given. Deleting the local state brings it back once. A search that
// found nothing is remembered with the FILES head it saw, so the next files
// command searches again only when the hub's files have changed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/files/files_reading.h"
#include "apps/hub_settings.h"
#include "hub/hub.h"

namespace nb::apps::files {

// Largest block our chunked writer makes.
uint64_t LargestChunkBlock();

// True if some live file is a single block larger than LargestChunkBlock().
bool HoldsReferenceSizedBlocks(const FilesReading& reading, store::Store& store);

// The notice to show now, or nullopt (compatible mode, nothing found, or
// already shown on this store). Showing it is remembered before returning.
std::optional<std::string> SharedWithReferenceNotice(hub::Hub& hub, const FilesReading& reading,
                                                     const HubSettings& settings);

// A writer that appended FILES events keeps the remembered search current:
// if the search had found nothing at `head_before` (the head the writer
// loaded), the live files now are those, moved or fewer, plus the ones the
// writer created; if none of the single blocks it wrote (`single_blocks`) is
// reference-sized, nothing is found at `head_after` either, and that is
// remembered. The next command then searches nothing (instead of a stat per
// file of the hub). Best effort: the worst outcome is one more search.
void NoteSearchAfterWrites(hub::Hub& hub, const std::optional<Hash256>& head_before,
                           const std::optional<Hash256>& head_after,
                           const std::vector<Hash256>& single_blocks);

}  // namespace nb::apps::files
