// Shared plumbing of the nearbytes command line: global options, opening the
// store and the hub, reading the secret, and printing. Commands are thin:
// parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/hub_settings.h"
#include "base/status.h"
#include "engine/hubs.h"
#include "engine/node.h"
#include "hub/hub.h"
#include "progress.h"
#include "store/store.h"

namespace nb::cli {

struct GlobalOptions {
  std::string store_path;   // empty: $NEARBYTES_HOME/store
  std::string secret_file;  // empty: $NEARBYTES_SECRET or a prompt
  std::string hub;          // --hub: a remembered hub's name or id prefix
  bool json = false;
  bool quiet = false;
};

class Context {
 public:
  Context() { current_ = this; }
  ~Context() { current_ = nullptr; }
  static Context* current() { return current_; }

  GlobalOptions options;

  std::filesystem::path StorePath() const;
  // Opens the store; `create` makes the primary root if missing.
  Result<store::Store*> OpenStore(bool create);
  // The engine's node of this run (opens the store like OpenStore).
  Result<engine::Node*> OpenNode(bool create);
  // The secret: --secret-file, then $NEARBYTES_SECRET, then a prompt on the
  // terminal with echo off. Never a command-line argument (visible in ps).
  Result<std::string> ReadSecret();
  // Like ReadSecret, but a secret typed at the prompt is asked twice (for
  // `hub create`, where a typo would make a different hub).
  Result<std::string> ReadNewSecret();
  // Uses `secret` for this run (a generated one).
  void SetSecret(std::string secret) { secret_ = std::move(secret); }
  // True when the secret came from the terminal prompt.
  bool secret_was_typed() const { return secret_typed_; }
  Result<hub::HubKeys> Keys();
  // Opens the hub of the secret in the store.
  Result<hub::Hub*> OpenHub(bool create);

  // Prints warnings about quarantined files met while reading.
  void ReportIncidents();
  // After a successful command: mirrors this run's appends into the extra
  // roots of the store.
  Status Finish();

 private:
  // Shows a long replay of the hub (a cold open verifying its events).
  // Declared before node_ so that it outlives the hubs that point at it.
  std::unique_ptr<ProgressLine> replay_progress_;
  std::unique_ptr<engine::Node> node_;
  Result<std::string> ReadSecretOnce();

  hub::Hub* hub_ = nullptr;
  std::string secret_;
  bool secret_typed_ = false;
  bool confirm_typed_secret_ = false;
  static Context* current_;
};

// Picks a remembered hub by display name or id prefix (engine/hubs.h).
using engine::ResolveRememberedHub;

// A command's body. Returns the exit code, or an error that main prints as
// one line (exit 1).
using CommandFn = std::function<Result<int>()>;
void SetCommand(CLI::App* command, CommandFn fn);

// Registration of each group of subcommands.
void RegisterCoreCommands(CLI::App& app, Context& ctx);
void RegisterFilesCommands(CLI::App& app, Context& ctx);
void RegisterFolderSyncCommands(CLI::App& app, Context& ctx);
// hub set (cmd_hub_settings.cc), with a helper for hub create and hub info.
void RegisterHubSettingsCommands(CLI::App* hub, Context& ctx);
// One line saying how the hub writes files and how to switch.
std::string ReferenceModeText(const apps::HubSettings& settings);
// say, chat, profile and members (cmd_chat.cc).
void RegisterChatCommands(CLI::App& app, Context& ctx);
// serve, status and peers (cmd_serve.cc).
void RegisterServeCommands(CLI::App& app, Context& ctx);

// Output helpers.
void PrintJson(const nlohmann::ordered_json& value);
// Prints a command's error: one line on stderr, or with --json a JSON
// object {"error":{"code","message"}} on stdout.
void PrintError(const Error& error, bool json);
// Text from a hub (file names, messages) shown on a terminal: control
// characters, C1 controls and bidirectional overrides become U+FFFD, so a
// name cannot move the cursor or recolor the screen. `keep_newlines` keeps
// line breaks (indented) for chat bodies. Unchanged when stdout is a pipe.
std::string Printable(std::string_view text, bool keep_newlines = false);
std::string TerminalText(std::string_view text);
std::string HumanBytes(uint64_t bytes);
bool StdoutIsTerminal();

}  // namespace nb::cli
