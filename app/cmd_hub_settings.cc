// hub set: settings of the hub that every device follows (apps/hub_settings.h).
#include <iostream>

#include "cli.h"
#include "engine/hubs.h"

namespace nb::cli {

std::string ReferenceModeText(const apps::HubSettings& settings) {
  if (settings.reference_compatible) {
    return "one block per file (reference-compatible: the reference software reads every file; "
           "switch off: nearbytes hub set reference-compatible off)";
  }
  return "chunked (default: the reference software cannot read our chunked files, most "
         "files over 256 KiB; "
         "switch: nearbytes hub set reference-compatible on)";
}

namespace {

using Json = nlohmann::ordered_json;

Result<int> HubSet(Context& ctx, const std::string& name, const std::string& value) {
  if (name != "reference-compatible") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown hub setting '" + name + "' (known: reference-compatible)");
  }
  bool on;
  if (value == "on" || value == "true" || value == "yes") {
    on = true;
  } else if (value == "off" || value == "false" || value == "no") {
    on = false;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "reference-compatible takes on or off, not '" + value + "'");
  }
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(apps::HubSettings before, apps::LoadHubSettings(*hub));
  NB_ASSIGN_OR_RETURN(apps::HubSettings after,
                      engine::SetReferenceCompatible(*hub, on, /*only_turn_on=*/false));
  bool changed = before.reference_compatible != after.reference_compatible;
  if (ctx.options.json) {
    Json out{{"referenceCompatible", after.reference_compatible}, {"changed", changed}};
    if (changed && after.record_event) out["event"] = after.record_event->Hex();
    PrintJson(out);
  } else if (!ctx.options.quiet) {
    std::cout << (changed ? "now: " : "already: ") << ReferenceModeText(after) << "\n";
    if (changed && on) {
      std::cout << "files put from now on are one block each; files already in the hub "
                   "stay as they are (put them again to rewrite them)\n";
    }
  }
  return 0;
}

}  // namespace

void RegisterHubSettingsCommands(CLI::App* hub, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  auto* set =
      hub->add_subcommand("set",
                          "Change a setting of the hub; it is recorded in the hub, so every device "
                          "follows it once synced");
  set->add_option("name", *name, "The setting: reference-compatible")->required();
  set->add_option("value", *value, "on or off")->required();
  set->footer(
      "Settings:\n"
      "  reference-compatible on|off   on: every file put is written as one block\n"
      "                                (nb.content.single.v1), which the reference Nearbytes\n"
      "                                software reads; off (the default): most files over\n"
      "                                256 KiB are chunked (deduplicated, but unreadable\n"
      "                                there).\n"
      "                                Files already in the hub keep their layout.\n"
      "Examples:\n"
      "  nearbytes hub set reference-compatible on\n"
      "  nearbytes hub info            # shows the layout in use\n"
      "  nearbytes hub create --reference-compatible   # a new hub in that mode");
  SetCommand(set, [&ctx, name, value] { return HubSet(ctx, *name, *value); });
}

}  // namespace nb::cli
