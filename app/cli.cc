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
#include "sync/folder_carrier.h"

namespace nb::cli {

std::filesystem::path Context::StorePath() const {
  if (!options.store_path.empty()) return options.store_path;
  return hub::DefaultStorePath();
}

Result<store::Store*> Context::OpenStore(bool create) {
  if (!store_) {
    std::vector<std::filesystem::path> roots{StorePath()};
    // Extra roots belong to the default store; an explicit --store is alone.
    if (options.store_path.empty()) {
      for (const auto& extra : hub::LoadExtraRoots()) {
        std::error_code ec;
        if (std::filesystem::is_directory(extra, ec)) {
          roots.push_back(extra);
        } else {
          std::cerr << "nearbytes: warning: extra root " << extra.string()
                    << " is not available; continuing without it\n";
        }
      }
    }
    NB_ASSIGN_OR_RETURN(store_, store::Store::Open(roots, create));
  }
  return store_.get();
}

namespace {

Result<std::string> PromptSecret() {
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
  std::fputs("Hub secret: ", tty);
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

Result<std::string> Context::ReadSecretOnce() {
  if (!options.secret_file.empty()) {
    std::ifstream in(options.secret_file, std::ios::binary);
    if (!in) {
      return MakeError(ErrorCode::kNotFound, "cannot read secret file " + options.secret_file);
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string secret = buffer.str();
    // A file written by `echo` ends in a newline that is not part of the secret.
    if (!secret.empty() && secret.back() == '\n') secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') secret.pop_back();
    if (secret.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "secret file " + options.secret_file + " is empty");
    }
    return secret;
  }
  if (const char* env = std::getenv("NEARBYTES_SECRET"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  // A machine that holds exactly one hub's secret opens that hub.
  auto keyring = hub::Keyring::Load(hub::HomeDir());
  if (keyring.ok() && keyring->secrets().size() == 1) return keyring->secrets().begin()->second;
  if (keyring.ok() && keyring->secrets().size() > 1 && ::isatty(STDIN_FILENO) != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "this machine holds " + std::to_string(keyring->secrets().size()) +
                         " hubs' secrets: choose one with NEARBYTES_SECRET or --secret-file");
  }
  return PromptSecret();
}

Result<hub::HubKeys> Context::Keys() {
  NB_ASSIGN_OR_RETURN(std::string secret, ReadSecret());
  return hub::HubKeys::FromSecret(secret);
}

Result<hub::Hub*> Context::OpenHub(bool create) {
  if (!hub_) {
    NB_ASSIGN_OR_RETURN(store::Store * store, OpenStore(create));
    NB_ASSIGN_OR_RETURN(hub::HubKeys keys, Keys());
    NB_ASSIGN_OR_RETURN(hub_, hub::Hub::Open(store, std::move(keys), create));
    // Remember appends, so they can be mirrored into extra roots at the end.
    hub_->log().Subscribe([this](const log::ValidEvent&) { appended_ = true; });
  }
  return hub_.get();
}

void Context::ReportIncidents() {
  if (!store_) return;
  for (const auto& incident : store_->TakeIncidents()) {
    std::cerr << "nearbytes: warning: " << incident << "\n";
  }
}

Context* Context::current_ = nullptr;

Status Context::Finish() {
  if (!appended_ || !store_ || !hub_ || store_->roots().size() < 2) return Status::Ok();
  // Extra roots receive every append: carry this hub's new events and their
  // blocks from the primary root to each of them.
  auto primary = store::Store::Open({store_->primary().path()}, false);
  if (!primary.ok()) return primary.error();
  for (size_t i = 1; i < store_->roots().size(); ++i) {
    auto mirror = store::Store::Open({store_->roots()[i].path()}, false);
    if (!mirror.ok()) {
      std::cerr << "nearbytes: warning: " << mirror.error().message << "\n";
      continue;
    }
    std::vector<std::string> rejected;
    auto carried =
        sync::Carry(**primary, **mirror, {hub_->id()}, {{hub_->id(), hub_->keys().symmetric_key()}},
                    0, nullptr, &rejected, nullptr);
    if (!carried.ok()) {
      std::cerr << "nearbytes: warning: could not copy to extra root "
                << store_->roots()[i].path().string() << ": " << carried.error().message << "\n";
    }
  }
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
      std::cerr << "nearbytes: " << result.error().message << "\n";
      throw CLI::RuntimeError(1);
    }
    if (*result != 0) throw CLI::RuntimeError(*result);
  });
}

void PrintJson(const nlohmann::ordered_json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
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

}  // namespace nb::cli
