// The engine: every operation Nearbytes offers, in one place, for every face
// (the CLI in app/, the daemon, its HTTP API and WebDAV, the tests). A face
// parses, asks and prints; the engine does the work and never prints, never
// reads a terminal: results are plain structs, errors are values
// (base/status.h), progress goes through engine/progress.h.
//
// A Node is one store (its primary root and extra roots) and the hubs it
// holds open. Operations take a Node, a hub::Hub or a FilesSession:
//
//   open a store, open hubs, mirror appends  engine/node.h        (Node)
//   hub create / list / forget / info / set   engine/hubs.h        (CreateHub, ListHubs,
//                                                                   ForgetHub, HubInfo,
//                                                                   SetReferenceCompatible)
//   hub figures (events, blocks, files)       engine/hub_figures.h
//   hub paths typed by people                 engine/hub_paths.h   (NormalizeHubPath)
//   a hub's files, opened for reading/writing engine/files_session.h (OpenFiles)
//   put (plan a tree, ingest, write events)   engine/put.h         (PlanPut, StorePut)
//   get / cat / export (content to disk)      engine/content_out.h (GetFile, ExportTree,
//                                                                   WriteContentToFd, ...)
//   ls / find / du, --at readings             engine/files_listing.h (ListFiles, FindFiles,
//                                                                   DiskUsage, ChooseReading)
//   mkdir / mv / rm / restore / history       engine/files_edit.h  (MakeDirectory, MovePath,
//                                                                   RemovePaths, RestorePath,
//                                                                   PathHistory)
//   chat, profiles, members                   engine/people.h      (LoadReadings, Say,
//                                                                   SetProfile, FindMember,
//                                                                   ListMembers)
//   sync with a folder, extra roots           engine/folder_sync.h (SyncWithFolder, AddRoot,
//                                                                   RemoveRoot)
//   verify a store                            engine/verify.h      (VerifyStore, KnownKeys)
//   garbage collection                        engine/gc.h          (CollectGarbage)
//   what a hub's events reference             engine/hub_references.h
//
// Conflicts are the FILES reading's own (apps/files/files_reading.h,
// FilesReading::conflicts), the event log is log::LoadAllEvents: faces read
// them directly.
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
