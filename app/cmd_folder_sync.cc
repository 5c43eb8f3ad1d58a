// sync (the folder carrier) and store roots.
#include <iostream>

#include "apps/hub_summary.h"
#include "cli.h"
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

// Resolves --hub values: a full id or an unambiguous prefix of a known hub.
Result<std::string> ResolveHubId(const std::string& wanted, const std::vector<std::string>& known) {
  std::vector<std::string> matches;
  for (const auto& id : known) {
    if (id.rfind(wanted, 0) == 0) matches.push_back(id);
  }
  if (matches.size() == 1) return matches[0];
  if (store::IsHubId(wanted)) return wanted;
  if (matches.empty()) return MakeError(ErrorCode::kNotFound, "no hub matches --hub " + wanted);
  return MakeError(ErrorCode::kInvalidArgument, "--hub " + wanted + " matches several hubs");
}

Result<int> Sync(Context& ctx, const SyncArgs& args) {
  NB_ASSIGN_OR_RETURN(store::Store * local, ctx.OpenStore(/*create=*/true));
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  std::map<std::string, std::string> secrets = keyring.secrets();
  // A secret given for this run (environment or file) counts as held.
  bool explicit_secret =
      std::getenv("NEARBYTES_SECRET") != nullptr || !ctx.options.secret_file.empty();
  if (explicit_secret) {
    NB_ASSIGN_OR_RETURN(std::string secret, ctx.ReadSecret());
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
    secrets[keys.id()] = secret;
  }

  sync::FolderSyncOptions options;
  options.push = args.push || !args.pull;
  options.pull = args.pull || !args.push;
  options.all_hubs = args.all;
  options.create = args.create;
  std::vector<std::string> known;
  for (const auto& [id, secret] : secrets) known.push_back(id);
  NB_ASSIGN_OR_RETURN(auto local_hubs, local->ListChannels());
  known.insert(known.end(), local_hubs.begin(), local_hubs.end());
  if (!args.hubs.empty()) {
    for (const auto& wanted : args.hubs) {
      NB_ASSIGN_OR_RETURN(std::string id, ResolveHubId(wanted, known));
      options.hub_ids.push_back(id);
    }
  } else if (!args.all) {
    for (const auto& [id, secret] : secrets) options.hub_ids.push_back(id);
    if (options.hub_ids.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "no hub to carry: this machine holds no secret (nearbytes hub create), "
                       "name one with --hub ID, or carry every hub with --all");
    }
  }

  // Hubs we can read: their keys find chunk blocks, and their readings say
  // what the sync brought.
  std::vector<std::unique_ptr<hub::Hub>> readable;
  for (const auto& [id, secret] : secrets) {
    bool carried = args.all || std::find(options.hub_ids.begin(), options.hub_ids.end(), id) !=
                                   options.hub_ids.end();
    if (!carried) continue;
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
    options.hub_keys[id] = keys.symmetric_key();
    auto opened = hub::Hub::Open(local, std::move(keys), /*create=*/true);
    if (opened.ok()) readable.push_back(std::move(*opened));
  }
  Progress progress("sync", 0, 0, !ctx.options.quiet);
  options.progress = [&](uint64_t bytes) { progress.SetBytes(bytes); };
  auto report = sync::SyncFolder(*local, args.folder, options);
  progress.Finish();
  ctx.ReportIncidents();
  if (!report.ok()) return report.error();

  // What the readings gained, for hubs that received events. The index has
  // not seen them yet, so it still describes the state before the sync.
  Json gains = Json::array();
  std::vector<std::string> gain_lines;
  std::unique_ptr<apps::state::StateDb> db;
  for (auto& hub : readable) {
    if (std::find(report->hubs_changed.begin(), report->hubs_changed.end(), hub->id()) ==
            report->hubs_changed.end() ||
        report->pulled.events == 0) {
      continue;
    }
    if (!db) {
      NB_ASSIGN_OR_RETURN(db, apps::OpenStateDb(*local));
    }
    NB_ASSIGN_OR_RETURN(apps::HubSummary before, apps::SummarizeHub(*hub, *db, /*refresh=*/false));
    NB_ASSIGN_OR_RETURN(apps::HubSummary after, apps::SummarizeHub(*hub, *db));
    apps::HubChange c = apps::CompareSummaries(before, after);
    gains.push_back(Json{{"hub", hub->id()},
                         {"name", hub->keys().display_name()},
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
    std::string line = "  " + hub->keys().display_name() + ": ";
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
                   {"seconds", progress.ElapsedSeconds()}});
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
    std::cout << "synced with " << args.folder << " in " << HumanDuration(progress.ElapsedSeconds())
              << " (" << report->hubs_carried.size() << " hub(s))\n";
    if (options.push) line("  sent      ", report->pushed);
    if (options.pull) line("  received  ", report->pulled);
    for (const auto& g : gain_lines) std::cout << g << "\n";
  }
  return report->rejected.empty() ? 0 : 1;
}

Result<int> AddRoot(Context& ctx, const std::string& folder) {
  if (!ctx.options.store_path.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "extra roots belong to the default store; run without --store");
  }
  fs::path path = fs::absolute(folder).lexically_normal();
  NB_ASSIGN_OR_RETURN(auto root, store::StorageRoot::Open(path, /*create=*/true));
  auto roots = hub::LoadExtraRoots();
  if (std::find(roots.begin(), roots.end(), path) != roots.end()) {
    std::cout << path.string() << " is already a root of the store\n";
    return 0;
  }
  NB_ASSIGN_OR_RETURN(store::Store * local, ctx.OpenStore(/*create=*/true));
  if (fs::equivalent(local->primary().path(), path)) {
    return MakeError(ErrorCode::kInvalidArgument, "that folder is the store itself");
  }
  roots.push_back(path);
  NB_RETURN_IF_ERROR(hub::SaveExtraRoots(roots));
  // Bring the new root up to date with every hub this machine can read.
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  sync::FolderSyncOptions options;
  options.create = true;  // made a root above
  for (const auto& [id, secret] : keyring.secrets()) {
    options.hub_ids.push_back(id);
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, hub::HubKeys::FromSecret(secret));
    options.hub_keys[id] = keys.symmetric_key();
  }
  NB_ASSIGN_OR_RETURN(auto report, sync::SyncFolder(*local, path, options));
  if (!ctx.options.quiet) {
    std::cout << "added " << path.string() << " as a root of the store: it is read on every "
              << "open and receives every append\n  sent " << report.pushed.events
              << " event(s), received " << report.pulled.events << " event(s)\n";
  }
  return 0;
}

Result<int> RemoveRoot(Context& ctx, const std::string& folder) {
  fs::path path = fs::absolute(folder).lexically_normal();
  auto roots = hub::LoadExtraRoots();
  auto it = std::find(roots.begin(), roots.end(), path);
  if (it == roots.end()) {
    return MakeError(ErrorCode::kNotFound, path.string() + " is not an extra root");
  }
  roots.erase(it);
  NB_RETURN_IF_ERROR(hub::SaveExtraRoots(roots));
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
