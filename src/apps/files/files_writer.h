// Writes FILES events (FORMAT.md §5) for one hub and keeps the reading in
// step. blockRefs follow the reference writer: the observed head, then for
// each touched path (RENAME: from, then to) the last event that wrote it and
// the content it left there, then the new content. Ours adds, last, the
// losing heads of a conflict it overwrites, which marks it resolved.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "apps/files/content_ref.h"
#include "apps/files/files_reading.h"
#include "apps/state/event_index.h"
#include "apps/state/files_projection.h"
#include "hub/hub.h"

namespace nb::apps::files {

class FilesWriter {
 public:
  // Loads the persisted FILES projection (state/files_projection.h): only
  // what changed since the last open is verified and folded. Without a
  // usable local state, replays the whole history (both cores).
  static Result<std::unique_ptr<FilesWriter>> Load(hub::Hub& hub);
  FilesWriter(hub::Hub& hub, FilesReading reading);
  // Stores the projection (SaveProjection); errors are only logged.
  ~FilesWriter();
  FilesWriter(const FilesWriter&) = delete;
  FilesWriter& operator=(const FilesWriter&) = delete;

  const FilesReading& reading() const { return reading_; }
  hub::Hub& hub() { return hub_; }
  // The hub's verified-event index, refreshed by Load; null when the store
  // has no usable local state. Other readings of the same command use it
  // rather than refreshing again.
  state::EventIndex* index() { return index_.get(); }

  // Leaves the local state current for the next command: the events this
  // writer appended are recorded in the index as they are published (so
  // nobody verifies them again), and this stores the FILES projection with
  // them folded in (so nobody folds them again). Called by the destructor;
  // a writer with a batch not committed stores nothing.
  Status SaveProjection();

  // Each call appends one event; user errors (missing source, file where a
  // directory is wanted...) are kInvalidArgument/kNotFound with a clear line.
  Result<Hash256> CreateFile(const std::string& path, const ContentRef& content,
                             ByteSpan wrapped_key, const std::optional<std::string>& mime_type);
  Result<Hash256> Mkdir(const std::string& path);
  Result<Hash256> Remove(const std::string& path, bool recursive);
  Result<Hash256> Rename(const std::string& from, const std::string& to);

  // Wall-clock ms, never decreasing within this writer.
  int64_t NextTimestamp();

  // Batch mode: events are staged and appear together, durably, on
  // CommitBatch (one sync instead of two per event). The reading sees them
  // at once.
  void BeginBatch();
  Result<size_t> CommitBatch();

 private:
  std::vector<Hash256> RefsFor(const std::vector<std::string>& touched,
                               const std::optional<Hash256>& new_content) const;
  Result<Hash256> Append(const std::string& payload, const std::vector<Hash256>& refs);
  void RecordAppended(const std::vector<state::EventIndex::Appended>& events);

  hub::Hub& hub_;
  // The local state the reading looks event details up in; declared first
  // so it outlives the reading.
  std::unique_ptr<state::StateDb> db_;
  std::unique_ptr<state::EventIndex> index_;
  FilesReading reading_;
  int64_t last_timestamp_ = 0;
  std::unique_ptr<store::BatchPublisher> batch_;
  // The local state's bookkeeping: where the stored projection stands,
  // events staged in the batch (recorded once it is committed), and
  // whether the reading holds appends the stored projection lacks. When
  // recording fails, the projection is not stored (it would name events
  // the index lacks); the next command verifies and folds them instead.
  state::FilesProjectionMark mark_;
  std::vector<state::EventIndex::Appended> staged_;
  bool unsaved_ = false;
  // Single-block contents this writer made live (ReferenceSharingAfterWrites).
  std::vector<Hash256> single_blocks_written_;
  std::optional<Hash256> head_at_load_;
};

// A path cut to a length that fits in a one-line message.
std::string ShortPathForMessage(std::string_view path);

// Suggests a MIME type from a file name's extension (nullopt if unknown).
std::optional<std::string> GuessMimeType(std::string_view name);

}  // namespace nb::apps::files
