// nearbytes: the command-line face of libnearbytes.
#include <iostream>

#include "base/heap.h"
#include "cli.h"

namespace {

// The first word that is not an option or an option's value: the command.
std::string_view CommandWord(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--store" || arg == "--secret-file" || arg == "--hub") {
      ++i;
      continue;
    }
    if (!arg.starts_with("-")) return arg;
  }
  return {};
}

// The command word, if it names no command.
std::string UnknownCommand(CLI::App& app, int argc, char** argv) {
  std::string word(CommandWord(argc, argv));
  if (word.empty()) return "";
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->check_name(word)) return "";
  }
  return word;
}

// Examples for the commands whose registration gives none (each command's
// --help teaches with its own lines, not the general ones).
void AddExamples(CLI::App& app) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> examples = {
      {{"hub", "list"}, "  nearbytes hub list\n  nearbytes --hub team ls      # use one of them"},
      {{"hub", "forget"},
       "  nearbytes --hub team hub forget   # the hub's data stays; its secret leaves this "
       "machine"},
      {{"gc"},
       "  nearbytes gc                 # what would go (dry run)\n"
       "  nearbytes gc --yes           # remove it (after a clean verify)"},
      {{"say"}, "  nearbytes say \"hello everyone\"\n  echo \"from a script\" | nearbytes say -"},
      {{"chat"},
       "  nearbytes chat -n 20\n  nearbytes chat --follow\n  nearbytes --json chat | jq "
       "'.messages[-1]'"},
      {{"profile"},
       "  nearbytes profile init\n  nearbytes profile set --name Ada\n  nearbytes profile show"},
      {{"profile", "init"},
       "  nearbytes profile init       # one identity for every hub on this machine"},
      {{"profile", "set"}, "  nearbytes profile set --name Ada --bio \"maps and boats\""},
      {{"profile", "show"}, "  nearbytes profile show"},
      {{"members"}, "  nearbytes members\n  nearbytes --json members"},
      {{"store", "add-root"}, "  nearbytes store add-root ~/Dropbox/nearbytes"},
      {{"store", "remove-root"}, "  nearbytes store remove-root ~/Dropbox/nearbytes"},
      {{"store", "roots"}, "  nearbytes store roots"},
  };
  for (const auto& [path, text] : examples) {
    CLI::App* command = &app;
    for (const auto& name : path) {
      try {
        command = command->get_subcommand(name);
      } catch (const CLI::OptionNotFound&) {
        command = nullptr;
        break;
      }
    }
    if (command != nullptr) command->footer("Examples:\n" + text);
  }
}

bool WantsJson(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") return true;
  }
  return false;
}

}  // namespace

// The daemon runs for days: it keeps glibc's default heap, which returns
// what it frees. Every other command is short-lived.
bool RunsTheDaemon(int argc, char** argv) { return CommandWord(argc, argv) == "serve"; }

int main(int argc, char** argv) {
  if (!RunsTheDaemon(argc, argv)) nb::PreferHugePagesForTheHeap();
  nb::cli::Context ctx;
  CLI::App app{
      "Nearbytes: share files, chat and profiles between people and devices, with no service "
      "in the middle.\n\n"
      "A hub is opened by its secret (from NEARBYTES_SECRET, --secret-file, or a prompt).\n"
      "Data lives in a store: by default $NEARBYTES_HOME/store (~/.nearbytes/store).\n",
      "nearbytes"};
  app.set_version_flag("--version", "nearbytes 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--store", ctx.options.store_path,
                 "Storage root to use (default: $NEARBYTES_HOME/store)")
      ->type_name("DIR");
  app.add_option("--secret-file", ctx.options.secret_file,
                 "Read the hub secret from FILE (one trailing newline is ignored)")
      ->type_name("FILE");
  app.add_option("--hub", ctx.options.hub,
                 "Which remembered hub to use: its name or the start of its id "
                 "(see `nearbytes hub list`)")
      ->type_name("NAME|ID");
  app.add_flag("--json", ctx.options.json, "Print machine-readable JSON (errors too)");
  app.add_flag("-q,--quiet", ctx.options.quiet, "No progress output");
  app.footer(
      "Examples:\n"
      "  export NEARBYTES_SECRET='team:a long remembered passphrase'\n"
      "  nearbytes hub create            # make the hub in the default store\n"
      "  nearbytes hub info              # id, name, events, blocks, bytes\n"
      "  nearbytes log --json            # every event with its payload type\n"
      "  nearbytes --store /media/usb verify   # check a store, no secret needed\n");

  nb::cli::RegisterCoreCommands(app, ctx);
  nb::cli::RegisterFilesCommands(app, ctx);
  nb::cli::RegisterFolderSyncCommands(app, ctx);
  nb::cli::RegisterChatCommands(app, ctx);
  nb::cli::RegisterServeCommands(app, ctx);
  AddExamples(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string unknown = UnknownCommand(app, argc, argv);
    nb::Error error{nb::ErrorCode::kInvalidArgument,
                    unknown.empty() ? std::string(e.what())
                                    : "unknown command '" + unknown + "' (see nearbytes --help)"};
    nb::cli::PrintError(error, ctx.options.json || WantsJson(argc, argv));
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "nearbytes: internal error: " << e.what() << "\n";
    return 70;
  }
  return 0;
}
