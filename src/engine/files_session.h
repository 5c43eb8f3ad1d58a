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

}  // namespace nb::engine
