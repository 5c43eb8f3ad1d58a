// A hub's files, opened for the files operations (put, get, ls, ...): the
// writer (which holds the live FILES reading) and the hub's settings.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "apps/files/files_writer.h"
#include "apps/hub_settings.h"
#include "hub/hub.h"

namespace nb::engine {

struct FilesSession {
  hub::Hub* hub = nullptr;
  std::unique_ptr<apps::files::FilesWriter> writer;
  apps::HubSettings settings;
  // A line for the person, when the hub is shared with the reference
  // software and holds files it cannot read (apps/files/reference_sharing.h).
  std::optional<std::string> notice;

  const apps::files::FilesReading& reading() const { return writer->reading(); }
};

Result<FilesSession> OpenFiles(hub::Hub& hub);

// The reading an operation works on: the live one, or the hub as it was at
// a point in time (`--at`: an event id or prefix, a date or an age).
struct ChosenReading {
  const apps::files::FilesReading* live = nullptr;
  std::optional<apps::files::FilesReading> past;
  std::string at_label;  // empty: live; else the event id (16 hex digits) or the text given
  const apps::files::FilesReading& reading() const { return past ? *past : *live; }
};

// `at` empty: the live reading. `now_ms` is what ages count back from.
Result<ChosenReading> ChooseReading(const apps::files::FilesReading& live, const std::string& at,
                                    int64_t now_ms);
// Milliseconds since the epoch.
int64_t NowMs();

}  // namespace nb::engine
