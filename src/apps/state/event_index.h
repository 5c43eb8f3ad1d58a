// The verified-event index of one hub: which event files were already
// checked (hash, signature, channel) and decoded, keyed by hash with the
// file's size and mtime. Reopening a hub costs a stat of each channel
// directory when nothing changed, and verifies only new or changed files
// otherwise (both cores). Events whose files vanished (quarantined, or
// removed by another program) leave the index on the next refresh.
#pragma once

#include <string>
#include <vector>

#include "apps/files/files_reading.h"
#include "apps/state/state_db.h"
#include "hub/hub.h"

namespace nb::apps::state {

struct RefreshReport {
  std::vector<files::DecodedEvent> added;  // newly verified and decoded
  size_t removed = 0;                      // events whose files disappeared
  size_t undecodable = 0;                  // new valid envelopes we cannot read
  std::vector<log::RefusedEvent> refused;  // new invalid files (quarantined)
  bool listed = false;                     // false: no directory changed
};

class EventIndex {
 public:
  EventIndex(StateDb* db, hub::Hub* hub) : db_(db), hub_(hub) {}

  // Brings the index in step with the store's roots.
  Result<RefreshReport> Refresh(unsigned threads = 0);
  // Every decodable event of the hub, from the index alone (no crypto).
  Result<std::vector<files::DecodedEvent>> LoadAll();
  // Records an event this process has just appended (already verified).
  Status Record(const log::ValidEvent& event, const std::string& payload);
  // Forgets the listing state so the next Refresh lists every directory.
  Status InvalidateScans();

 private:
  StateDb* db_;
  hub::Hub* hub_;
};

}  // namespace nb::apps::state
