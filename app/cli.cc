#include "cli.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "hub/home.h"
#include "hub/keyring.h"
#include "hub/secret.h"
#include "store/file_io.h"

namespace nb::cli {

std::filesystem::path Context::StorePath() const {
  if (!options.store_path.empty()) return options.store_path;
  return hub::DefaultStorePath();
}

Result<engine::Node*> Context::OpenNode(bool create) {
  if (!node_) {
    std::vector<std::string> warnings;
    auto node = engine::Node::Open(engine::HomeNodeOptions(options.store_path, create), &warnings);
    for (const auto& warning : warnings) std::cerr << "nearbytes: warning: " << warning << "\n";
    if (!node.ok()) return node.error();
    node_ = std::move(*node);
  }
  return node_.get();
}

Result<store::Store*> Context::OpenStore(bool create) {
  NB_ASSIGN_OR_RETURN(engine::Node * node, OpenNode(create));
  return &node->store();
}

namespace {

Result<std::string> PromptSecret(const char* prompt) {
  FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no secret: set NEARBYTES_SECRET, pass --secret-file FILE, or run on a "
                     "terminal to be asked");
  }
  int fd = fileno(tty);
  termios saved{};
  bool restore = ::tcgetattr(fd, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::fputs(prompt, tty);
  std::fflush(tty);
  std::string secret;
  for (int c = std::fgetc(tty); c != EOF && c != '\n'; c = std::fgetc(tty)) {
    secret.push_back(static_cast<char>(c));
  }
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &saved);
  std::fputs("\n", tty);
  std::fclose(tty);
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) return MakeError(ErrorCode::kInvalidArgument, "no secret entered");
  return secret;
}

}  // namespace

Result<std::string> Context::ReadSecret() {
  if (!secret_.empty()) return secret_;
  auto secret = ReadSecretOnce();
  if (secret.ok()) secret_ = *secret;
  return secret;
}

Result<std::string> Context::ReadNewSecret() {
  confirm_typed_secret_ = true;
  return ReadSecret();
}

namespace {

// A secret is a passphrase: anything longer is a mistake (a wrong file).
constexpr uint64_t kMaxSecretFileBytes = 64 * 1024;

Result<std::string> ReadSecretFile(const std::string& path) {
  auto bytes = store::ReadFileBytes(path, kMaxSecretFileBytes);
  if (!bytes.ok()) {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (bytes.error().code == ErrorCode::kNotFound) {
      return MakeError(ErrorCode::kNotFound, "cannot read secret file " + path + ": no such file");
    }
    if (!ec && !std::filesystem::is_regular_file(status)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "secret file " + path + " is not a regular file");
    }
    if (!ec && std::filesystem::file_size(path, ec) > kMaxSecretFileBytes) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "secret file " + path + " is larger than 64 KiB: not a secret");
    }
    return MakeError(bytes.error().code,
                     "cannot read secret file " + path + ": " + bytes.error().message);
  }
  std::string secret(bytes->begin(), bytes->end());
  // A file written by `echo` ends in a newline that is not part of the secret.
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "secret file " + path + " is empty");
  }
  return secret;
}

}  // namespace

Result<std::string> Context::ReadSecretOnce() {
  if (!options.secret_file.empty()) {
    if (!options.hub.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--hub and --secret-file both choose a hub: give one of them");
    }
    return ReadSecretFile(options.secret_file);
  }
  // An explicit --hub wins over a secret exported in the environment.
  if (!options.hub.empty() && !confirm_typed_secret_) {
    NB_ASSIGN_OR_RETURN(hub::Keyring keyring, hub::Keyring::Load(hub::HomeDir()));
    NB_ASSIGN_OR_RETURN(std::string id, ResolveRememberedHub(options.hub, keyring.secrets()));
    return keyring.secrets().at(id);
  }
  if (const char* env = std::getenv("NEARBYTES_SECRET"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  if (confirm_typed_secret_) {
    // A new hub: never one of the remembered ones; ask twice.
    NB_ASSIGN_OR_RETURN(std::string first, PromptSecret("New hub secret: "));
    NB_ASSIGN_OR_RETURN(std::string again, PromptSecret("Type it again: "));
    if (first != again) {
      return MakeError(ErrorCode::kInvalidArgument, "the two secrets differ; nothing was created");
    }
    secret_typed_ = true;
    return first;
  }
  auto keyring = hub::Keyring::Load(hub::HomeDir());
  if (!keyring.ok()) {
    // Without the remembered secrets we may still be given one; say why
    // they were not used rather than failing on a missing secret alone.
    std::cerr << "nearbytes: warning: remembered secrets not used: " << keyring.error().message
              << "\n";
  }
  // A machine that holds exactly one hub's secret opens that hub.
  if (keyring.ok() && keyring->secrets().size() == 1) return keyring->secrets().begin()->second;
  if (keyring.ok() && keyring->secrets().size() > 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "this machine remembers " + std::to_string(keyring->secrets().size()) +
                         " hubs: " + engine::ListRemembered(keyring->secrets()) +
                         "; choose one with --hub NAME or --hub ID-PREFIX (or give its secret)");
  }
  NB_ASSIGN_OR_RETURN(std::string typed, PromptSecret("Hub secret: "));
  secret_typed_ = true;
  return typed;
}

Result<hub::HubKeys> Context::Keys() {
  NB_ASSIGN_OR_RETURN(std::string secret, ReadSecret());
  return hub::HubKeys::FromSecret(secret);
}

Result<hub::Hub*> Context::OpenHub(bool create) {
  if (hub_ == nullptr) {
    NB_ASSIGN_OR_RETURN(engine::Node * node, OpenNode(create));
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, Keys());
    NB_ASSIGN_OR_RETURN(hub_, node->OpenHub(std::move(keys), create));
    // On a terminal, unless -q: Progress itself stays silent elsewhere.
    replay_progress_ = std::make_unique<ProgressLine>("verifying", !options.quiet, "events");
    hub_->set_replay_progress(replay_progress_.get());
  }
  return hub_;
}

void Context::ReportIncidents() {
  if (!node_) return;
  for (const auto& incident : node_->TakeIncidents()) {
    std::cerr << "nearbytes: warning: " << incident << "\n";
  }
}

Context* Context::current_ = nullptr;

Status Context::Finish() {
  if (!node_) return Status::Ok();
  NB_ASSIGN_OR_RETURN(std::vector<std::string> warnings, node_->MirrorAppends());
  for (const auto& warning : warnings) std::cerr << "nearbytes: warning: " << warning << "\n";
  return Status::Ok();
}

void SetCommand(CLI::App* command, CommandFn fn) {
  command->callback([fn = std::move(fn)]() {
    Result<int> result = fn();
    if (result.ok() && Context::current() != nullptr) {
      Status finished = Context::current()->Finish();
      if (!finished.ok()) result = finished.error();
    }
    if (!result.ok()) {
      PrintError(result.error(), Context::current() != nullptr && Context::current()->options.json);
      throw CLI::RuntimeError(1);
    }
    if (*result != 0) throw CLI::RuntimeError(*result);
  });
}

void PrintJson(const nlohmann::ordered_json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

namespace {

const char* ErrorCodeKey(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kCrypto:
      return "crypto";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace

void PrintError(const Error& error, bool json) {
  if (json) {
    std::cout.flush();
    PrintJson(nlohmann::ordered_json{
        {"error", {{"code", ErrorCodeKey(error.code)}, {"message", error.message}}}});
  } else {
    std::cerr << "nearbytes: " << error.message << "\n";
  }
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", value, units[unit]);
  }
  return buf;
}

bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::string Printable(std::string_view text, bool keep_newlines) {
  static constexpr std::string_view kReplacement = "\xef\xbf\xbd";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<uint8_t>(text[i]);
    if (c == '\n' && keep_newlines) {
      out.append("\n    ");
    } else if (c == '\t') {
      out.push_back('\t');
    } else if (c < 0x20 || c == 0x7f) {
      out.append(kReplacement);
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<uint8_t>(text[i + 1]) >= 0x80 &&
               static_cast<uint8_t>(text[i + 1]) <= 0x9f) {
      out.append(kReplacement);  // C1 control
      ++i;
    } else if (c == 0xe2 && i + 2 < text.size() &&
               ((static_cast<uint8_t>(text[i + 1]) == 0x80 &&
                 static_cast<uint8_t>(text[i + 2]) >= 0xaa &&
                 static_cast<uint8_t>(text[i + 2]) <= 0xae) ||
                (static_cast<uint8_t>(text[i + 1]) == 0x81 &&
                 static_cast<uint8_t>(text[i + 2]) >= 0xa6 &&
                 static_cast<uint8_t>(text[i + 2]) <= 0xa9))) {
      out.append(kReplacement);  // U+202A..U+202E, U+2066..U+2069
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string TerminalText(std::string_view text) {
  static const bool terminal = StdoutIsTerminal();
  return terminal ? Printable(text) : std::string(text);
}

}  // namespace nb::cli
