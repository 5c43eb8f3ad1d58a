#include "engine/files_session.h"

#include <chrono>

#include "apps/files/files_at.h"
#include "apps/files/reference_sharing.h"

namespace nb::engine {

Result<FilesSession> OpenFiles(hub::Hub& hub) {
  FilesSession session;
  session.hub = &hub;
  NB_ASSIGN_OR_RETURN(session.writer, apps::files::FilesWriter::Load(hub));
  NB_ASSIGN_OR_RETURN(session.settings, apps::LoadHubSettings(hub, session.writer->index()));
  session.notice =
      apps::files::SharedWithReferenceNotice(hub, session.writer->reading(), session.settings);
  return session;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<ChosenReading> ChooseReading(const apps::files::FilesReading& live, const std::string& at,
                                    int64_t now_ms) {
  ChosenReading out;
  out.live = &live;
  if (at.empty()) return out;
  NB_ASSIGN_OR_RETURN(apps::files::PointInTime point,
                      apps::files::ParsePointInTime(live, at, now_ms));
  NB_ASSIGN_OR_RETURN(apps::files::FilesReading past, apps::files::ReadingAt(live, point));
  out.past = std::move(past);
  out.at_label = point.event ? point.event->Hex().substr(0, 16) : at;
  return out;
}

}  // namespace nb::engine
