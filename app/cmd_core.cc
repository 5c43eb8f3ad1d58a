// hub, log and verify: the commands that show the history layer itself.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "apps/hub_settings.h"
#include "apps/payload.h"
#include "base/parallel.h"
#include "cli.h"
#include "engine/gc.h"
#include "engine/hub_figures.h"
#include "engine/hubs.h"
#include "engine/verify.h"
#include "hub/home.h"
#include "hub/keyring.h"
#include "hub/secret_strength.h"
#include "progress.h"

namespace nb::cli {
namespace {

using Json = nlohmann::ordered_json;

using EventRow = engine::LoggedEvent;

std::string TypeLabel(const EventRow& row) {
  if (!row.decrypted) return "(cannot decrypt)";
  if (!row.summary) return "(unreadable payload)";
  if (!row.summary->protocol.empty()) return row.summary->type + " " + row.summary->protocol;
  return row.summary->type;
}

struct HubCreateArgs {
  bool no_remember = false;
  bool generate = false;
  bool reference_compatible = false;
  std::string name;
};

Result<int> HubCreate(Context& ctx, const HubCreateArgs& args) {
  if (args.generate) {
    if (!ctx.options.secret_file.empty() || std::getenv("NEARBYTES_SECRET") != nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--generate makes a new secret: do not also give one (--secret-file or "
                       "NEARBYTES_SECRET)");
    }
    ctx.SetSecret(hub::GenerateSecret(args.name));
  } else if (!args.name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--name goes with --generate; a typed secret names its hub itself "
                     "(\"name:password\")");
  }
  NB_ASSIGN_OR_RETURN(std::string secret, ctx.ReadNewSecret());
  NB_ASSIGN_OR_RETURN(engine::Node * node, ctx.OpenNode(/*create=*/true));
  NB_ASSIGN_OR_RETURN(
      engine::CreatedHub created,
      engine::CreateHub(*node, secret, args.reference_compatible, !args.no_remember));
  hub::Hub* hub = created.hub;
  const hub::SecretStrength& strength = created.strength;
  const apps::HubSettings& settings = created.settings;
  if (strength.weak()) {
    std::string reasons;
    for (const auto& w : strength.warnings) reasons += (reasons.empty() ? "" : "; ") + w;
    std::cerr << "nearbytes: warning: weak secret (" << reasons << "): about "
              << static_cast<int>(strength.bits) << " bits, which one GPU guesses in "
              << strength.time_to_guess
              << ". The hub id is public and the key derivation uses a fixed salt, so anyone "
                 "who sees this hub's id can guess its secret offline. `nearbytes hub create "
                 "--generate` makes a strong one.\n";
  }
  if (ctx.options.json) {
    Json out{{"id", hub->id()},
             {"name", hub->keys().display_name()},
             {"store", hub->store().primary().path().string()},
             {"remembered", !args.no_remember},
             {"secretBits", static_cast<int>(strength.bits)},
             {"weakSecret", strength.weak()},
             {"referenceCompatible", settings.reference_compatible}};
    if (args.generate) out["secret"] = secret;
    PrintJson(out);
  } else {
    std::cout << "Hub \"" << hub->keys().display_name() << "\" is ready in "
              << hub->store().primary().path().string() << "\n  id " << hub->id() << "\n";
    if (settings.reference_compatible) std::cout << "  " << ReferenceModeText(settings) << "\n";
    if (args.generate) {
      std::cout << "\nIts secret (write it down: it is the only key to this hub; whoever has it "
                   "can read and write everything):\n\n  "
                << secret << "\n\n";
      if (!args.no_remember) std::cout << "This machine remembers it.\n";
    }
  }
  return 0;
}

Result<int> HubForget(Context& ctx) {
  NB_ASSIGN_OR_RETURN(hub::HubKeys keys, ctx.Keys());
  NB_RETURN_IF_ERROR(engine::ForgetHub(keys.id()));
  if (!ctx.options.quiet) std::cout << "forgot the secret of hub " << keys.display_name() << "\n";
  return 0;
}

Result<int> HubList(Context& ctx) {
  NB_ASSIGN_OR_RETURN(std::vector<engine::RememberedHub> hubs, engine::ListRememberedHubs());
  Json out = Json::array();
  for (const auto& h : hubs) out.push_back(Json{{"id", h.id}, {"name", h.name}});
  if (ctx.options.json) {
    PrintJson(out);
  } else if (out.empty()) {
    std::cout << "no hub secrets on this machine (nearbytes hub create remembers one)\n";
  } else {
    for (const auto& h : out) {
      std::cout << h["id"].get<std::string>().substr(0, 16) << "...  "
                << h["name"].get<std::string>() << "\n";
    }
  }
  return 0;
}

Result<int> HubInfo(Context& ctx) {
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(engine::HubInfo info, engine::DescribeHub(*hub));
  const engine::HubFigures& f = info.figures;
  const apps::HubSettings& settings = info.settings;
  ctx.ReportIncidents();
  Json kinds = Json::object();
  for (const auto& [kind, count] : f.events_by_kind) kinds[kind] = count;
  if (ctx.options.json) {
    PrintJson(Json{{"id", hub->id()},
                   {"name", hub->keys().display_name()},
                   {"store", hub->store().primary().path().string()},
                   {"events", f.events},
                   {"invalidEvents", f.invalid_events},
                   {"blocks", f.blocks},
                   {"missingBlocks", f.missing_blocks},
                   {"bytes", f.event_bytes + f.block_bytes},
                   {"eventBytes", f.event_bytes},
                   {"blockBytes", f.block_bytes},
                   {"chunksCounted", f.chunks_counted},
                   {"liveFiles", f.live_files},
                   {"liveBytes", f.live_bytes},
                   {"versions", f.versions},
                   {"eventsByKind", kinds},
                   {"referenceCompatible", settings.reference_compatible}});
  } else {
    std::cout << "hub     " << hub->keys().display_name() << "\n"
              << "id      " << hub->id() << "\n"
              << "store   " << hub->store().primary().path().string() << "\n"
              << "events  " << f.events;
    if (f.invalid_events != 0) std::cout << " (" << f.invalid_events << " invalid)";
    for (const auto& [kind, count] : f.events_by_kind) std::cout << "; " << kind << " " << count;
    std::cout << "\nblocks  " << f.blocks << " (" << HumanBytes(f.block_bytes)
              << ", chunks included)";
    if (f.missing_blocks != 0) std::cout << " (" << f.missing_blocks << " missing)";
    if (!f.chunks_counted) std::cout << " (some manifests unreadable: their chunks not counted)";
    std::cout << "\nfiles   " << f.live_files << " live (" << HumanBytes(f.live_bytes) << "), "
              << f.versions << " version(s) in the history"
              << "\nbytes   " << HumanBytes(f.event_bytes + f.block_bytes) << "\n";
    std::cout << "layout  " << ReferenceModeText(settings) << "\n";
  }
  return f.invalid_events == 0 ? 0 : 1;
}

Result<int> LogCommand(Context& ctx) {
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(log::LoadedEvents loaded, log::LoadAllEvents(hub->log()));
  ctx.ReportIncidents();
  std::vector<EventRow> rows = engine::DescribeEvents(*hub, loaded);
  if (ctx.options.json) {
    Json events = Json::array();
    for (const auto& row : rows) {
      Json refs = Json::array();
      for (const auto& ref : row.event->envelope.block_refs) refs.push_back(ref.Hex());
      Json item{{"hash", row.event->hash.Hex()}, {"valid", true}, {"blockRefs", refs}};
      item["decrypted"] = row.decrypted;
      if (row.summary) {
        item["type"] = row.summary->type;
        if (!row.summary->protocol.empty()) item["protocol"] = row.summary->protocol;
        if (row.summary->timestamp_ms) item["timestamp"] = *row.summary->timestamp_ms;
      }
      events.push_back(std::move(item));
    }
    for (const auto& refused : loaded.refused) {
      events.push_back(
          Json{{"hash", refused.hash.Hex()}, {"valid", false}, {"error", refused.reason}});
    }
    PrintJson(Json{{"hub", hub->id()}, {"events", events}});
  } else {
    for (const auto& row : rows) {
      std::cout << row.event->hash.Hex().substr(0, 16) << "  " << TypeLabel(row);
      if (row.summary && row.summary->timestamp_ms) {
        std::cout << "  t=" << *row.summary->timestamp_ms;
      }
      std::cout << "  refs=" << row.event->envelope.block_refs.size() << "  valid\n";
    }
    for (const auto& refused : loaded.refused) {
      std::cout << refused.hash.Hex().substr(0, 16) << "  INVALID  " << refused.reason << "\n";
    }
    std::cout << rows.size() << " valid event(s)";
    if (!loaded.refused.empty()) std::cout << ", " << loaded.refused.size() << " invalid";
    std::cout << "\n";
  }
  return loaded.refused.empty() ? 0 : 1;
}

// The keys verify and gc use: remembered secrets, and the run's secret if
// one is given (--secret-file or NEARBYTES_SECRET; never a prompt).
Result<std::map<std::string, hub::HubKeys>> RunKeys(Context& ctx, store::Store& store) {
  std::vector<std::string> secrets;
  if (!ctx.options.secret_file.empty() || std::getenv("NEARBYTES_SECRET") != nullptr) {
    NB_ASSIGN_OR_RETURN(std::string secret, ctx.ReadSecret());
    secrets.push_back(secret);
  }
  return engine::KnownKeys(store, secrets);
}

std::string Short(const std::string& hex) { return hex.substr(0, 16) + "..."; }

std::string DescribeUse(const engine::BlockUse& use) {
  if (!use.live_path.empty())
    return use.live_path + " (live version " + use.version.Hex().substr(0, 12) + ")";
  return use.path + " (older version " + use.version.Hex().substr(0, 12) + ")";
}

Json VerifyJson(const engine::VerifyReport& report) {
  Json broken = Json::array();
  for (const auto& b : report.broken) {
    Json breaks = Json::array();
    for (const auto& use : b.breaks) {
      breaks.push_back(Json{{"path", use.path},
                            {"version", use.version.Hex()},
                            {"live", !use.live_path.empty()},
                            {"livePath", use.live_path}});
    }
    broken.push_back(Json{{"block", b.hash.Hex()},
                          {"hub", b.hub_id},
                          {"state", b.quarantined ? "quarantined" : "missing"},
                          {"breaks", breaks}});
  }
  Json hubs = Json::array();
  for (const auto& h : report.hubs) {
    hubs.push_back(Json{{"id", h.hub_id},
                        {"events", h.valid_events},
                        {"referencedBlocks", h.referenced_blocks},
                        {"chunksChecked", h.chunks_checked},
                        {"notes", h.notes}});
  }
  return Json{{"ok", report.ok()},
              {"events", report.events_ok},
              {"blocks", report.blocks_ok},
              {"staleTempsRemoved", report.temps_reaped},
              {"problems", report.problems},
              {"missingBlocks", broken},
              {"hubs", hubs}};
}

void PrintVerifyText(const engine::VerifyReport& report) {
  for (const auto& problem : report.problems) std::cout << "BAD      " << problem << "\n";
  for (const auto& b : report.broken) {
    std::cout << (b.quarantined ? "DAMAGED  block " : "MISSING  block ") << b.hash.Hex()
              << " of hub " << Short(b.hub_id)
              << (b.quarantined ? " (only a damaged copy, in quarantine)" : "");
    if (!b.breaks.empty()) {
      std::cout << "; breaks";
      for (size_t i = 0; i < b.breaks.size(); ++i) {
        std::cout << (i ? ", " : " ") << DescribeUse(b.breaks[i]);
      }
    }
    std::cout << "\n";
  }
  for (const auto& h : report.hubs) {
    if (h.chunks_checked) continue;
    std::cout << "note     hub " << Short(h.hub_id) << ": chunk reachability not (fully) checked: ";
    for (size_t i = 0; i < h.notes.size(); ++i) std::cout << (i ? "; " : "") << h.notes[i];
    std::cout << "\n";
  }
  size_t referenced = 0;
  for (const auto& h : report.hubs) referenced += h.referenced_blocks;
  std::cout << (report.ok() ? "ok: " : "FAILED: ") << report.events_ok << " valid event(s), "
            << report.blocks_ok << " valid block(s), " << referenced - report.broken.size()
            << " of " << referenced << " referenced block(s) present";
  if (!report.problems.empty()) {
    std::cout << ", " << report.problems.size() << " bad file(s) moved to quarantine";
  }
  if (!report.broken.empty()) std::cout << ", " << report.broken.size() << " missing block(s)";
  std::cout << "\n";
}

Result<int> VerifyCommand(Context& ctx) {
  NB_ASSIGN_OR_RETURN(store::Store * store, ctx.OpenStore(/*create=*/false));
  engine::VerifyOptions options;
  NB_ASSIGN_OR_RETURN(options.keys, RunKeys(ctx, *store));
  ProgressLine progress("verifying", !ctx.options.quiet, "events");
  options.progress = &progress;
  NB_ASSIGN_OR_RETURN(engine::VerifyReport report, engine::VerifyStore(*store, options));
  if (ctx.options.json) {
    Json out{{"store", store->primary().path().string()}};
    out.update(VerifyJson(report));
    PrintJson(out);
  } else {
    PrintVerifyText(report);
  }
  return report.ok() ? 0 : 1;
}

Result<int> GcCommand(Context& ctx, bool yes) {
  NB_ASSIGN_OR_RETURN(store::Store * store, ctx.OpenStore(/*create=*/false));
  engine::GcOptions options;
  options.delete_blocks = yes;
  NB_ASSIGN_OR_RETURN(options.verify.keys, RunKeys(ctx, *store));
  NB_ASSIGN_OR_RETURN(engine::GcReport report, engine::CollectGarbage(*store, options));
  if (ctx.options.json) {
    Json unreferenced = Json::array();
    for (const auto& h : report.unreferenced) unreferenced.push_back(h.Hex());
    PrintJson(Json{{"store", store->primary().path().string()},
                   {"verified", report.verified},
                   {"verify", VerifyJson(report.verify)},
                   {"blocks", report.blocks},
                   {"unreferenced", unreferenced},
                   {"unreferencedBytes", report.unreferenced_bytes},
                   {"heldBack", report.held_back},
                   {"deleted", report.deleted},
                   {"deletedBytes", report.deleted_bytes},
                   {"dryRun", !yes}});
  } else if (!report.verified) {
    PrintVerifyText(report.verify);
    std::cout << "gc: the store did not verify; nothing was deleted\n";
  } else {
    for (const auto& why : report.held_back) std::cout << "kept     " << why << "\n";
    if (!report.held_back.empty() && !report.unreferenced.empty()) {
      std::cout << "gc: " << report.unreferenced.size() << " block(s) ("
                << HumanBytes(report.unreferenced_bytes)
                << ") look unreferenced, but a hub above may use them as chunks: nothing is "
                   "deleted until its secret is given (NEARBYTES_SECRET or --secret-file) "
                   "or remembered\n";
    } else if (yes) {
      std::cout << "gc: deleted " << report.deleted << " unreferenced block(s) ("
                << HumanBytes(report.deleted_bytes) << "), " << report.blocks - report.deleted
                << " block(s) kept\n";
    } else {
      for (const auto& h : report.unreferenced) std::cout << "unused   " << h.Hex() << "\n";
      std::cout << "gc (dry run): " << report.unreferenced.size() << " of " << report.blocks
                << " block(s) unreferenced (" << HumanBytes(report.unreferenced_bytes) << ")"
                << (report.unreferenced.empty() ? "" : "; run `nearbytes gc --yes` to delete them")
                << "\n";
    }
  }
  if (!report.verified) return 1;
  return yes && !report.held_back.empty() && !report.unreferenced.empty() ? 1 : 0;
}

}  // namespace

void RegisterCoreCommands(CLI::App& app, Context& ctx) {
  CLI::App* hub = app.add_subcommand("hub", "Create a hub or show what one holds");
  hub->require_subcommand(1);
  auto create_args = std::make_shared<HubCreateArgs>();
  auto* create = hub->add_subcommand("create",
                                     "Create the hub of your secret in the store "
                                     "(nothing happens if it exists) and remember "
                                     "the secret on this machine");
  create->add_flag("--no-remember", create_args->no_remember,
                   "Do not keep the secret in $NEARBYTES_HOME/secrets");
  create->add_flag("--generate", create_args->generate,
                   "Make a strong random secret, print it once and remember it");
  create->add_option("--name", create_args->name, "The hub's name, with --generate")
      ->type_name("NAME");
  create->add_flag("--reference-compatible", create_args->reference_compatible,
                   "Write every file as one block, so the reference Nearbytes software reads "
                   "the hub (a setting of the hub, followed by every device; see hub set)");
  create->footer(
      "The secret is the hub: whoever has it can read and write everything, and a lost\n"
      "secret cannot be recovered. A typed secret is asked twice.\n\n"
      "Examples:\n"
      "  nearbytes hub create --generate --name team     # a strong secret, printed once\n"
      "  NEARBYTES_SECRET='team:long passphrase' nearbytes hub create\n"
      "  nearbytes hub create --reference-compatible     # shared with the reference app\n"
      "  nearbytes --store /media/usb hub create --no-remember");
  SetCommand(create, [&ctx, create_args] { return HubCreate(ctx, *create_args); });
  SetCommand(hub->add_subcommand("forget",
                                 "Remove this hub's secret from this machine "
                                 "(its data stays)"),
             [&ctx] { return HubForget(ctx); });
  SetCommand(hub->add_subcommand("list", "The hubs whose secret this machine holds"),
             [&ctx] { return HubList(ctx); });
  SetCommand(hub->add_subcommand("info", "Show the hub's id, name, events, blocks and size"),
             [&ctx] { return HubInfo(ctx); });
  RegisterHubSettingsCommands(hub, ctx);

  SetCommand(app.add_subcommand("log",
                                "List the hub's events: hash, payload type, blockRefs, "
                                "validity (exit 1 if any is invalid)"),
             [&ctx] { return LogCommand(ctx); });
  SetCommand(app.add_subcommand("verify",
                                "Check every block and event of the store, and that every block "
                                "an event references is present (chunks and paths of hubs whose "
                                "secret is known); corrupt files go to .nearbytes/quarantine/, "
                                "exit 1 if anything is bad or missing"),
             [&ctx] { return VerifyCommand(ctx); });
  auto gc_yes = std::make_shared<bool>(false);
  auto* gc = app.add_subcommand("gc",
                                "Remove blocks no event of any hub references (dry run unless "
                                "--yes; verifies the store first and deletes nothing unless it "
                                "passes)");
  gc->add_flag("--yes", *gc_yes, "Really delete the unreferenced blocks");
  SetCommand(gc, [&ctx, gc_yes] { return GcCommand(ctx, *gc_yes); });
}

}  // namespace nb::cli
