// sync (the folder carrier) and store roots.
#include <iostream>

#include "cli.h"
#include "engine/folder_sync.h"
#include "hub/home.h"
#include "hub/keyring.h"
#include "progress.h"
#include "sync/folder_carrier.h"

namespace nb::cli {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct SyncArgs {
  std::string folder;
  bool push = false, pull = false, all = false, create = false;
  std::vector<std::string> hubs;
};

Result<int> Sync(Context& ctx, const SyncArgs& args) {
  NB_ASSIGN_OR_RETURN(store::Store * local, ctx.OpenStore(/*create=*/true));
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  engine::FolderSyncRequest request;
  request.folder = args.folder;
  request.secrets = keyring.secrets();
  // A secret given for this run (environment or file) counts as held.
  bool explicit_secret =
      std::getenv("NEARBYTES_SECRET") != nullptr || !ctx.options.secret_file.empty();
  if (explicit_secret) {
    NB_ASSIGN_OR_RETURN(std::string secret, ctx.ReadSecret());
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
    request.secrets[keys.id()] = secret;
  }
  request.push = args.push || !args.pull;
  request.pull = args.pull || !args.push;
  request.all = args.all;
  request.create = args.create;
  request.hubs = args.hubs;
  ProgressLine progress("sync", !ctx.options.quiet);
  auto synced = engine::SyncWithFolder(*local, request, &progress);
  ctx.ReportIncidents();
  if (!synced.ok()) return synced.error();
  const sync::FolderSyncReport* report = &synced->report;

  Json gains = Json::array();
  std::vector<std::string> gain_lines;
  for (const auto& gain : synced->gains) {
    const apps::HubChange& c = gain.change;
    const apps::HubSummary& after = gain.after;
    gains.push_back(Json{{"hub", gain.hub_id},
                         {"name", gain.name},
                         {"newEvents", c.new_events},
                         {"files", after.files},
                         {"newFiles", c.added_files},
                         {"changedFiles", c.changed_files},
                         {"renamedFiles", c.renamed_files},
                         {"removedFiles", c.removed_files},
                         {"messages", after.messages},
                         {"newMessages", c.new_messages},
                         {"conflicts", c.conflicts},
                         {"newConflicts", c.new_conflicts},
                         {"resolvedConflicts", c.resolved_conflicts}});
    if (c.empty()) continue;
    std::vector<std::string> parts;
    auto part = [&](size_t n, const std::string& what) {
      if (n > 0) parts.push_back(std::to_string(n) + " " + what);
    };
    part(c.added_files, "new file(s)");
    part(c.changed_files, "changed file(s)");
    part(c.renamed_files, "renamed file(s)");
    part(c.removed_files, "removed file(s)");
    part(c.new_messages, "new message(s)");
    part(c.new_conflicts, "new conflict(s)");
    part(c.resolved_conflicts, "conflict(s) resolved");
    if (parts.empty()) part(c.new_events, "new event(s)");
    std::string line = "  " + gain.name + ": ";
    for (size_t i = 0; i < parts.size(); ++i) line += (i ? ", " : "") + parts[i];
    if (c.conflicts > 0) line += " — see `nearbytes conflicts`";
    gain_lines.push_back(line);
  }
  auto stats_json = [](const sync::CarryStats& s) {
    return Json{
        {"events", s.events}, {"blocks", s.blocks}, {"repaired", s.repaired}, {"bytes", s.bytes}};
  };
  std::string problems = sync::ProblemSummary(*report, args.folder);
  if (ctx.options.json) {
    PrintJson(Json{{"folder", fs::absolute(args.folder).lexically_normal().string()},
                   {"pushed", stats_json(report->pushed)},
                   {"pulled", stats_json(report->pulled)},
                   {"hubs", report->hubs_carried},
                   {"changedHubs", report->hubs_changed},
                   {"rejected", report->rejected},
                   {"junk", report->junk.details},
                   {"readings", gains},
                   {"seconds", synced->seconds}});
  } else if (!problems.empty()) {
    std::cerr << "nearbytes: " << problems << "\n";
  }
  if (!ctx.options.json && !ctx.options.quiet) {
    auto line = [](const char* what, const sync::CarryStats& s) {
      std::cout << what << s.events << " event(s), " << s.blocks << " block(s)";
      if (s.repaired > 0)
        std::cout << " (" << s.repaired << " repaired: named by events already there)";
      std::cout << ", " << HumanBytes(s.bytes) << "\n";
    };
    std::cout << "synced with " << args.folder << " in " << HumanDuration(synced->seconds) << " ("
              << report->hubs_carried.size() << " hub(s))\n";
    if (request.push) line("  sent      ", report->pushed);
    if (request.pull) line("  received  ", report->pulled);
    for (const auto& g : gain_lines) std::cout << g << "\n";
  }
  return report->rejected.empty() ? 0 : 1;
}

Result<int> AddRoot(Context& ctx, const std::string& folder) {
  if (!ctx.options.store_path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "extra roots belong to the default store; run without --store");
  }
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  NB_ASSIGN_OR_RETURN(
      engine::AddedRoot added,
      engine::AddRoot(
          folder, [&ctx] { return ctx.OpenStore(/*create=*/true); }, keyring.secrets()));
  if (added.already) {
    std::cout << added.path.string() << " is already a root of the store\n";
    return 0;
  }
  if (!ctx.options.quiet) {
    std::cout << "added " << added.path.string() << " as a root of the store: it is read on every "
              << "open and receives every append\n  sent " << added.pushed.events
              << " event(s), received " << added.pulled.events << " event(s)\n";
  }
  return 0;
}

Result<int> RemoveRoot(Context& ctx, const std::string& folder) {
  NB_ASSIGN_OR_RETURN(fs::path path, engine::RemoveRoot(folder));
  if (!ctx.options.quiet) std::cout << "removed " << path.string() << " (its files stay)\n";
  return 0;
}

Result<int> ListRoots(Context& ctx) {
  Json out = Json::array();
  out.push_back(Json{{"path", ctx.StorePath().string()}, {"primary", true}});
  if (ctx.options.store_path.empty()) {
    for (const auto& root : hub::LoadExtraRoots()) {
      std::error_code ec;
      out.push_back(Json{
          {"path", root.string()}, {"primary", false}, {"available", fs::is_directory(root, ec)}});
    }
  }
  if (ctx.options.json) {
    PrintJson(out);
    return 0;
  }
  for (const auto& r : out) {
    std::cout << (r["primary"].get<bool>() ? "primary  " : "extra    ")
              << r["path"].get<std::string>();
    if (r.contains("available") && !r["available"].get<bool>()) std::cout << "  (unavailable)";
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

void RegisterFolderSyncCommands(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<SyncArgs>();
  auto* sync = app.add_subcommand(
      "sync",
      "Exchange what each side lacks with a folder: a USB stick, a disk, a share or a "
      "cloud-synced folder. Everything is verified before it is copied, and a block "
      "missing on one side is fetched from the other.");
  sync->add_option("folder", args->folder, "The folder (a storage root)")->required();
  sync->add_flag("--push", args->push, "Only copy from this machine to the folder");
  sync->add_flag("--pull", args->pull, "Only copy from the folder to this machine");
  sync->add_option("--hub", args->hubs, "Carry only this hub (id or id prefix; repeatable)");
  sync->add_flag("--create", args->create,
                 "Make the folder a Nearbytes folder if it is not one yet (or does not exist)");
  sync->add_flag("--all", args->all,
                 "Carry every hub on either side, even ones whose secret this machine lacks");
  sync->footer(
      "By default the hubs whose secret this machine holds are carried (see `nearbytes hub "
      "list`).\nJunk in the folder (misnamed files, links, leftovers) is moved to its "
      ".nearbytes/quarantine once.\nExamples:\n  nearbytes sync --create /media/usb/nearbytes   "
      "# first time\n  nearbytes sync /media/usb/nearbytes");
  SetCommand(sync, [&ctx, args] { return Sync(ctx, *args); });

  auto* store = app.add_subcommand("store", "Manage the roots of the local store");
  store->require_subcommand(1);
  auto folder = std::make_shared<std::string>();
  auto* add = store->add_subcommand(
      "add-root",
      "Make a folder (e.g. one a cloud client keeps in step) an extra root: read on "
      "every open, written on every append");
  add->add_option("folder", *folder, "The folder")->required();
  SetCommand(add, [&ctx, folder] { return AddRoot(ctx, *folder); });
  auto* remove = store->add_subcommand("remove-root", "Stop using an extra root (keeps its files)");
  remove->add_option("folder", *folder, "The folder")->required();
  SetCommand(remove, [&ctx, folder] { return RemoveRoot(ctx, *folder); });
  SetCommand(store->add_subcommand("roots", "List the store's roots"),
             [&ctx] { return ListRoots(ctx); });
}

}  // namespace nb::cli
