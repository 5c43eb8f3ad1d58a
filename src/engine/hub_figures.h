// The figures `hub info` shows, computed from the hub's valid events and,
// through its key, its FILES reading: events (per kind), blocks and bytes
// counting every chunk, live files and their bytes, file versions.
#pragma once

#include <map>
#include <string>

#include "hub/hub.h"

namespace nb::engine {

struct HubFigures {
  size_t events = 0;          // valid
  size_t invalid_events = 0;  // refused (now in quarantine)
  uint64_t event_bytes = 0;
  std::map<std::string, size_t> events_by_kind;
  size_t blocks = 0;           // referenced blocks present (content, manifests, chunks)
  size_t missing_blocks = 0;   // referenced blocks absent
  uint64_t block_bytes = 0;    // on disk, of the present ones
  bool chunks_counted = true;  // false: some manifest could not be opened
  size_t live_files = 0;
  uint64_t live_bytes = 0;  // plaintext
  size_t versions = 0;      // file versions (CREATE_FILE events) in the history
};

Result<HubFigures> ComputeHubFigures(hub::Hub& hub);

}  // namespace nb::engine
