// The engine: every operation Nearbytes offers, in one place, for every face
// (the CLI in app/, the daemon, its HTTP API and WebDAV, the tests). A face
// parses, asks and prints; the engine does the work and never prints, never
// reads a terminal: results are plain structs, errors are values
// (base/status.h), progress goes through engine/progress.h.
//
// A Node is one store (its primary root and extra roots) and the hubs it
// holds open. Operations take a Node, a store, a hub::Hub, or a FilesSession
// (a hub's files opened for reading and writing). Where each one lives:
//
//   operation                      face              engine
//   open the store, open hubs,     every command     node.h         Node, HomeNodeOptions,
//     mirror appends to extra                                       Node::MirrorAppends
//     roots after a command
//   hub create/list/forget/info    hub ...           hubs.h         CreateHub, ListRememberedHubs,
//                                                                   ForgetHub, DescribeHub
//   choose a remembered hub        --hub NAME|ID     hubs.h         ResolveRememberedHub
//   hub set reference-compatible   hub set           hubs.h         SetReferenceCompatible
//   the event log described        log               hubs.h         DescribeEvents
//   hub figures                    hub info          hub_figures.h  ComputeHubFigures
//   hub paths as typed             (all files ops)   hub_paths.h    NormalizeHubPath
//   a hub's files, --at readings   (all files ops)   files_session.h OpenFiles, ChooseReading
//   put a tree                     put               put.h          PlanPut, StorePut
//   get, cat, export               get, cat, export  content_out.h  GetFile, FilesToRead,
//                                                                   WriteContentToFd, ExportTree
//   ls, find, du                   ls, find, du      files_listing.h ListFiles, FindFiles,
//                                                                   DiskUsage
//   mkdir, mv, rm, restore,        mkdir, mv, rm,    files_edit.h   MakeDirectory, MovePath,
//     history                        restore, history               RemovePaths, RestorePath,
//                                                                   PathHistory
//   conflicts                      conflicts         the FILES reading itself
//                                                    (apps/files/files_reading.h conflicts())
//   chat and profile readings,     chat [--follow],  people.h       LoadReadings, ApplyNewEvents,
//     say, profile, members          say, profile,                  Say, SetProfile, FindMember,
//                                    members                        ListMembers, OptionalIdentity
//   sync with a folder,            sync, store ...   folder_sync.h  SyncWithFolder, AddRoot,
//     extra roots                                                   RemoveRoot
//   verify a store                 verify            verify.h       VerifyStore, KnownKeys
//   garbage collection             gc                gc.h           CollectGarbage
//   what a hub's events reference  (verify, gc,      hub_references.h CollectHubReferences
//                                    hub info)
//
// Faces: the CLI (app/cmd_*.cc) parses with CLI11, asks for secrets on the
// terminal (app/cli.cc), calls one of the above and prints text or --json.
// Long operations report through ProgressObserver (engine/progress.h); the
// CLI's is its progress line (app/progress.h).
//
// Thread-safety: a Node is used by one thread at a time.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "hub/hub.h"
#include "store/store.h"

namespace nb::engine {

struct NodeOptions {
  std::filesystem::path primary;
  // Read on every open and written on every append (hub::LoadExtraRoots).
  std::vector<std::filesystem::path> extra_roots;
  bool create = false;  // make the primary root if it is missing
};

// The node of this machine: `store_override` (--store) alone, or the default
// store with the extra roots remembered in $NEARBYTES_HOME.
NodeOptions HomeNodeOptions(const std::filesystem::path& store_override, bool create);

// The roots a store of these options opens with: the primary, then each
// extra root that is an available directory (one left out gets a line in
// `warnings`: an unplugged disk must not stop the store).
std::vector<std::filesystem::path> AvailableRoots(const NodeOptions& options,
                                                  std::vector<std::string>* warnings);

class Node {
 public:
  // Opens the store. An extra root that is not an available directory is
  // left out, with a line in `warnings`.
  static Result<std::unique_ptr<Node>> Open(const NodeOptions& options,
                                            std::vector<std::string>* warnings);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  store::Store& store() { return *store_; }

  // The hub of `keys`, opened once: later calls for the same hub return the
  // same object. Appends to it are remembered for MirrorAppends.
  Result<hub::Hub*> OpenHub(hub::HubKeys keys, bool create);
  // An open hub, or nullptr.
  hub::Hub* FindHub(const std::string& id);

  // Extra roots receive every append: carries the new events of every hub
  // appended to since the last call, and their blocks, from the primary
  // root to each extra root. A root that cannot be written is skipped; the
  // returned lines say which and why. An error: the primary root could not
  // be opened to read from.
  Result<std::vector<std::string>> MirrorAppends();

  // Quarantined files met while reading, one line each (cleared).
  std::vector<std::string> TakeIncidents() { return store_->TakeIncidents(); }

 private:
  explicit Node(std::unique_ptr<store::Store> store) : store_(std::move(store)) {}

  std::unique_ptr<store::Store> store_;
  std::map<std::string, std::unique_ptr<hub::Hub>> hubs_;
  std::set<std::string> appended_;  // hub ids
};

}  // namespace nb::engine
