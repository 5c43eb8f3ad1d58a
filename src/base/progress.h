// How long work reports progress: through this interface, never by
// printing. A face (the CLI's progress line, the daemon's status) gives one;
// nullptr means nobody is watching. It lives at the bottom so that work below
// the engine (a cold replay verifying a hub's events, apps/state) can report
// too; engine/progress.h names it for the engine's operations. Calls may come
// from worker threads (ingest reads files on several, a replay verifies on
// every core), so implementations must be thread-safe.
#pragma once

#include <cstdint>

namespace nb {

class ProgressObserver {
 public:
  virtual ~ProgressObserver() = default;
  // The work is sized: `total_bytes` and `total_files` (0 when unknown).
  // Called once, before any other call.
  virtual void Begin(uint64_t total_bytes, uint64_t total_files) = 0;
  // Bytes done so far (absolute) or just done (relative).
  virtual void SetBytes(uint64_t bytes) = 0;
  virtual void AddBytes(uint64_t bytes) = 0;
  virtual void AddFiles(uint64_t files) = 0;
  // The long part is over (what follows is quick: committing, summing up).
  virtual void End() = 0;
};

}  // namespace nb
