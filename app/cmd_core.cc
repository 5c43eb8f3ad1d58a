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
#include "hub/home.h"
#include "hub/keyring.h"
#include "hub/secret_strength.h"

namespace nb::cli {
namespace {

using Json = nlohmann::ordered_json;

struct EventRow {
  const log::ValidEvent* event;
  std::optional<apps::PayloadSummary> summary;
  bool decrypted = false;
};

std::vector<EventRow> DescribeEvents(const hub::Hub& hub, const log::LoadedEvents& loaded) {
  std::vector<EventRow> rows;
  for (const auto& event : loaded.valid) {
    EventRow row{&event, std::nullopt, false};
    auto payload = hub.DecryptPayload(event);
    if (payload.ok()) {
      row.decrypted = true;
      row.summary = apps::SummarizePayload(*payload);
    }
    rows.push_back(std::move(row));
  }
  // Time order reads best; the hash breaks ties so the order is stable.
  std::stable_sort(rows.begin(), rows.end(), [](const EventRow& a, const EventRow& b) {
    int64_t ta = a.summary && a.summary->timestamp_ms ? *a.summary->timestamp_ms : INT64_MAX;
    int64_t tb = b.summary && b.summary->timestamp_ms ? *b.summary->timestamp_ms : INT64_MAX;
    if (ta != tb) return ta < tb;
    return a.event->hash < b.event->hash;
  });
  return rows;
}

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
  hub::SecretStrength strength = hub::EstimateSecretStrength(secret);
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/true));
  NB_ASSIGN_OR_RETURN(
      apps::HubSettings settings,
      SetReferenceCompatible(*hub, args.reference_compatible, /*only_turn_on=*/true));
  if (!args.no_remember) {
    NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
    NB_RETURN_IF_ERROR(keyring.Remember(hub->id(), secret));
  }
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
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  NB_RETURN_IF_ERROR(keyring.Forget(keys.id()));
  if (!ctx.options.quiet) std::cout << "forgot the secret of hub " << keys.display_name() << "\n";
  return 0;
}

Result<int> HubList(Context& ctx) {
  NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
  Json out = Json::array();
  for (const auto& [id, secret] : keyring.secrets()) {
    auto parsed = hub::ParseSecret(secret);
    std::string name = parsed.ok() && parsed->display_name ? *parsed->display_name : "";
    out.push_back(Json{{"id", id}, {"name", name}});
  }
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
  NB_ASSIGN_OR_RETURN(apps::HubSettings settings, apps::LoadHubSettings(*hub));
  NB_ASSIGN_OR_RETURN(log::LoadedEvents loaded, log::LoadAllEvents(hub->log()));
  ctx.ReportIncidents();
  std::set<crypto::Hash256> event_hashes;
  uint64_t event_bytes = 0;
  for (const auto& event : loaded.valid) {
    event_hashes.insert(event.hash);
    auto* root = hub->store().RootWithEvent(hub->id(), event.hash);
    if (root != nullptr) {
      auto st = root->StatEvent(hub->id(), event.hash);
      if (st.ok()) event_bytes += st->size;
    }
  }
  // Blocks belong to a hub through its events' blockRefs.
  std::set<crypto::Hash256> blocks;
  for (const auto& event : loaded.valid) {
    for (const auto& ref : event.envelope.block_refs) {
      if (!event_hashes.count(ref)) blocks.insert(ref);
    }
  }
  uint64_t block_bytes = 0;
  size_t present = 0;
  for (const auto& block : blocks) {
    auto size = hub->store().BlockSize(block);
    if (size.ok()) {
      ++present;
      block_bytes += *size;
    }
  }
  if (ctx.options.json) {
    PrintJson(Json{{"id", hub->id()},
                   {"name", hub->keys().display_name()},
                   {"store", hub->store().primary().path().string()},
                   {"events", loaded.valid.size()},
                   {"invalidEvents", loaded.refused.size()},
                   {"blocks", present},
                   {"missingBlocks", blocks.size() - present},
                   {"bytes", event_bytes + block_bytes},
                   {"referenceCompatible", settings.reference_compatible}});
  } else {
    std::cout << "hub     " << hub->keys().display_name() << "\n"
              << "id      " << hub->id() << "\n"
              << "store   " << hub->store().primary().path().string() << "\n"
              << "events  " << loaded.valid.size();
    if (!loaded.refused.empty()) std::cout << " (" << loaded.refused.size() << " invalid)";
    std::cout << "\nblocks  " << present;
    if (present != blocks.size()) std::cout << " (" << blocks.size() - present << " missing)";
    std::cout << "\nbytes   " << HumanBytes(event_bytes + block_bytes) << "\n";
    std::cout << "layout  " << ReferenceModeText(settings) << "\n";
  }
  return loaded.refused.empty() ? 0 : 1;
}

Result<int> LogCommand(Context& ctx) {
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(log::LoadedEvents loaded, log::LoadAllEvents(hub->log()));
  ctx.ReportIncidents();
  std::vector<EventRow> rows = DescribeEvents(*hub, loaded);
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

struct VerifyReport {
  size_t events_ok = 0;
  size_t blocks_ok = 0;
  size_t temps_reaped = 0;
  std::vector<std::string> problems;
};

// Checks every event of every channel and every block of every root. Needs
// no secret: hashes and signatures verify with the channel's public key.
Result<VerifyReport> VerifyStore(store::Store& store) {
  VerifyReport report;
  std::mutex mu;
  auto record = [&](const Status& status, size_t* ok_count) {
    std::lock_guard<std::mutex> lock(mu);
    if (status.ok()) {
      ++*ok_count;
    } else {
      report.problems.push_back(status.error().message);
    }
  };
  for (auto& root : store.roots()) {
    report.temps_reaped += root.ReapStaleTemps();
    NB_ASSIGN_OR_RETURN(auto channels, root.ListChannels());
    for (const auto& channel : channels) {
      auto key = crypto::PublicKey::FromHex(channel);
      if (!key.ok()) {
        report.problems.push_back("channel " + channel + " is not a valid public key");
        continue;
      }
      log::HubLog log(&store, *key);
      NB_ASSIGN_OR_RETURN(auto hashes, root.ListEvents(channel));
      ParallelFor(hashes.size(), 0, [&](size_t i) {
        auto bytes = root.ReadEventFile(channel, hashes[i]);
        Status status;
        if (!bytes.ok()) {
          status = bytes.error();
        } else if (auto valid = log.ValidateAt(root, hashes[i], *bytes); !valid.ok()) {
          status = valid.error();
        }
        record(status, &report.events_ok);
      });
    }
    std::vector<crypto::Hash256> blocks;
    NB_RETURN_IF_ERROR(root.ForEachBlock([&](const crypto::Hash256& h) { blocks.push_back(h); }));
    ParallelFor(blocks.size(), 0,
                [&](size_t i) { record(root.VerifyBlock(blocks[i]), &report.blocks_ok); });
  }
  store.TakeIncidents();  // already in problems
  return report;
}

Result<int> VerifyCommand(Context& ctx) {
  NB_ASSIGN_OR_RETURN(store::Store * store, ctx.OpenStore(/*create=*/false));
  NB_ASSIGN_OR_RETURN(VerifyReport report, VerifyStore(*store));
  if (ctx.options.json) {
    PrintJson(Json{{"store", store->primary().path().string()},
                   {"ok", report.problems.empty()},
                   {"events", report.events_ok},
                   {"blocks", report.blocks_ok},
                   {"staleTempsRemoved", report.temps_reaped},
                   {"problems", report.problems}});
  } else {
    for (const auto& problem : report.problems) std::cout << "BAD  " << problem << "\n";
    std::cout << (report.problems.empty() ? "ok: " : "FAILED: ") << report.events_ok
              << " valid event(s), " << report.blocks_ok << " valid block(s)";
    if (!report.problems.empty()) {
      std::cout << ", " << report.problems.size() << " bad file(s) moved to quarantine";
    }
    std::cout << "\n";
  }
  return report.problems.empty() ? 0 : 1;
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
                                "Check every block and event of the store (no secret needed); "
                                "corrupt files go to .nearbytes/quarantine/, exit 1 if any"),
             [&ctx] { return VerifyCommand(ctx); });
}

}  // namespace nb::cli
