#include "engine/files_session.h"

#include "apps/files/reference_sharing.h"

namespace nb::engine {

Result<FilesSession> OpenFiles(hub::Hub& hub) {
  FilesSession session;
  session.hub = &hub;
  NB_ASSIGN_OR_RETURN(session.writer, apps::files::FilesWriter::Load(hub));
  NB_ASSIGN_OR_RETURN(session.settings, apps::LoadHubSettings(hub));
  session.notice =
      apps::files::SharedWithReferenceNotice(hub, session.writer->reading(), session.settings);
  return session;
}

}  // namespace nb::engine
