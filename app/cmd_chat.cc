// say, chat, profile and members: the chat and profile readings of a hub.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <iostream>

#include "apps/chat/chat_reading.h"
#include "apps/profile/identity.h"
#include "apps/profile/profile_reading.h"
#include "cli.h"
#include "engine/people.h"
#include "log/channel_watcher.h"

namespace nb::cli {
namespace {

using Json = nlohmann::ordered_json;
using apps::chat::ChatMessage;
using apps::chat::ChatReading;
using apps::profile::Identity;
using apps::profile::ProfileReading;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  if (::localtime_r(&seconds, &tm) == nullptr) return std::to_string(ms);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

using engine::OptionalIdentity;
using engine::Readings;

// The readings, with quarantine incidents reported; skipped chat records
// are counted only for --json, which reports them (it scans the hub).
Result<Readings> LoadReadings(Context& ctx, size_t chat_limit = 0) {
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  auto readings = engine::LoadReadings(*hub, chat_limit, ctx.options.json);
  ctx.ReportIncidents();
  return readings;
}

Json MessageJson(const ChatMessage& message, const ProfileReading& profiles) {
  apps::chat::AuthorView author = apps::chat::DescribeAuthor(message, profiles);
  Json author_json{{"status", apps::chat::AuthorStatusName(author.status)}};
  if (!author.id.empty()) author_json["id"] = author.id;
  if (author.name) author_json["name"] = *author.name;
  return Json{{"eventHash", message.event_hash.Hex()},
              {"publishedAt", message.published_at},
              {"ts", message.ts},
              {"body", message.body},
              {"verified", message.verified},
              {"authorName", author.label},
              {"author", std::move(author_json)}};
}

void PrintMessage(const ChatMessage& message, const ProfileReading& profiles) {
  apps::chat::AuthorView author = apps::chat::DescribeAuthor(message, profiles);
  std::cout << FormatTime(message.published_at) << "  ";
  if (!message.verified) std::cout << "[unverified] ";
  std::cout << Printable(author.label, false) << ": " << Printable(message.body, true) << "\n";
}

// --- say --------------------------------------------------------------------

struct SayOptions {
  std::vector<std::string> words;
  bool no_identity = false;
};

Result<int> Say(Context& ctx, const SayOptions& options) {
  std::string body;
  if (options.words.size() == 1 && options.words[0] == "-") {
    // Bounded: one byte past the limit is enough to refuse it.
    body.resize(apps::chat::kMaxMessageBytes + 1);
    std::cin.read(body.data(), static_cast<std::streamsize>(body.size()));
    body.resize(static_cast<size_t>(std::cin.gcount()));
  } else {
    for (size_t i = 0; i < options.words.size(); ++i) {
      if (i > 0) body.push_back(' ');
      body += options.words[i];
    }
  }
  // Check the message before anything else: a bad one never costs a secret.
  NB_ASSIGN_OR_RETURN(body, apps::chat::NormalizeBody(body));
  std::optional<Identity> identity;
  if (!options.no_identity) {
    NB_ASSIGN_OR_RETURN(identity, OptionalIdentity());
  }
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  NB_ASSIGN_OR_RETURN(engine::Said said,
                      engine::Say(*hub, body, identity ? &*identity : nullptr, NowMs()));
  if (ctx.options.json) {
    PrintJson(Json{{"eventHash", said.event.Hex()},
                   {"publishedAt", said.published_at},
                   {"body", said.body},
                   {"author", identity ? Json(identity->id) : Json(nullptr)}});
  } else if (!ctx.options.quiet) {
    std::cout << "sent " << said.event.Hex().substr(0, 16) << " to hub \""
              << hub->keys().display_name() << "\""
              << (identity ? ""
                  : options.no_identity
                      ? " as hub member"
                      : " as hub member (no identity: see `nearbytes profile init`)")
              << "\n";
  }
  return 0;
}

// --- chat -------------------------------------------------------------------

struct ChatOptions {
  size_t limit = 0;
  bool follow = false;
  double follow_timeout = 0;  // seconds; 0 = until a signal
};

// SIGINT/SIGTERM end `chat --follow` cleanly: the handler only writes a byte
// to a pipe that the wait loop watches.
int g_wake_pipe[2] = {-1, -1};

void OnStopSignal(int) {
  int saved = errno;
  if (g_wake_pipe[1] >= 0) {
    ssize_t ignored = ::write(g_wake_pipe[1], "x", 1);
    (void)ignored;
  }
  errno = saved;
}

class StopSignals {
 public:
  StopSignals() {
    if (::pipe2(g_wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
    struct sigaction action {};
    action.sa_handler = OnStopSignal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, &saved_int_);
    ::sigaction(SIGTERM, &action, &saved_term_);
    installed_ = true;
  }
  ~StopSignals() {
    if (installed_) {
      ::sigaction(SIGINT, &saved_int_, nullptr);
      ::sigaction(SIGTERM, &saved_term_, nullptr);
    }
    for (int& fd : g_wake_pipe) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }
  int fd() const { return g_wake_pipe[0]; }
  bool stopped() const {
    char c;
    return g_wake_pipe[0] >= 0 && ::read(g_wake_pipe[0], &c, 1) == 1;
  }

 private:
  struct sigaction saved_int_ {};
  struct sigaction saved_term_ {};
  bool installed_ = false;
};

Result<int> Chat(Context& ctx, const ChatOptions& options) {
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  // Watch before loading, so nothing published during the load is missed.
  std::unique_ptr<log::ChannelWatcher> watcher;
  if (options.follow) {
    NB_ASSIGN_OR_RETURN(watcher, log::ChannelWatcher::Start(&hub->log()));
  }
  NB_ASSIGN_OR_RETURN(Readings readings, LoadReadings(ctx, options.limit));
  ChatReading& chat = *readings.chat;
  const auto& messages = chat.messages();
  size_t first =
      options.limit > 0 && messages.size() > options.limit ? messages.size() - options.limit : 0;

  if (!options.follow) {
    if (ctx.options.json) {
      Json list = Json::array();
      for (size_t i = first; i < messages.size(); ++i) {
        list.push_back(MessageJson(messages[i], readings.profiles));
      }
      PrintJson(Json{
          {"hub", hub->id()}, {"messages", std::move(list)}, {"skippedRecords", chat.skipped()}});
    } else {
      for (size_t i = first; i < messages.size(); ++i) {
        PrintMessage(messages[i], readings.profiles);
      }
      if (messages.empty() && !ctx.options.quiet) {
        std::cout << "no messages yet in hub \"" << hub->keys().display_name()
                  << "\"; say something with `nearbytes say <message>`\n";
      }
    }
    return 0;
  }

  // --follow: one line per message (JSON lines with --json), then new ones
  // as they arrive, until SIGINT/SIGTERM (or the hidden timeout).
  auto emit = [&](const ChatMessage& message) {
    if (ctx.options.json) {
      std::cout << MessageJson(message, readings.profiles)
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    } else {
      PrintMessage(message, readings.profiles);
    }
    std::cout.flush();
  };
  for (size_t i = first; i < messages.size(); ++i) emit(messages[i]);
  StopSignals signals;
  if (!ctx.options.quiet) {
    std::cerr << "following the chat of hub \"" << hub->keys().display_name()
              << "\" (Ctrl-C to stop)\n";
  }
  using Clock = std::chrono::steady_clock;
  auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(options.follow_timeout * 1000));
  while (!signals.stopped()) {
    int wait_ms = -1;
    if (options.follow_timeout > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      wait_ms = static_cast<int>(left.count());
    }
    NB_ASSIGN_OR_RETURN(std::vector<log::ValidEvent> events, watcher->Wait(wait_ms, signals.fd()));
    for (const auto& message : engine::ApplyNewEvents(readings, events)) emit(message);
  }
  return 0;
}

// --- profile ----------------------------------------------------------------

struct InitOptions {
  bool force = false;
  std::string from_file;
};

Result<int> ProfileInit(Context& ctx, const InitOptions& options) {
  std::filesystem::path path = apps::profile::DefaultIdentityPath();
  std::error_code ec;
  if (!options.force && std::filesystem::exists(path, ec)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "an identity already exists in " + path.string() +
                         "; use --force to replace it (the old one is lost unless you saved it)");
  }
  std::string secret;
  if (!options.from_file.empty()) {
    // An identity secret brought from elsewhere (another machine, a backup).
    GlobalOptions saved = ctx.options;
    ctx.options.secret_file = options.from_file;
    auto read = ctx.ReadSecret();
    ctx.options = saved;
    if (!read.ok()) return read.error();
    secret = std::move(*read);
  } else {
    secret = apps::profile::GenerateIdentitySecret();
  }
  NB_ASSIGN_OR_RETURN(Identity identity, apps::profile::IdentityFromSecret(secret));
  NB_RETURN_IF_ERROR(apps::profile::WriteIdentityFile(path, secret, options.force));
  if (ctx.options.json) {
    PrintJson(Json{{"id", identity.id}, {"path", path.string()}});
  } else {
    std::cout << "Your identity is " << identity.id << "\n"
              << "Its secret is in " << path.string()
              << " (mode 0600): keep a copy somewhere safe, it is who you are.\n"
              << "Next: nearbytes profile set --name \"Your Name\"\n";
  }
  return 0;
}

struct SetOptions {
  std::string name;
  std::string bio;
  CLI::Option* name_option = nullptr;
  CLI::Option* bio_option = nullptr;
};

Result<int> ProfileSet(Context& ctx, const SetOptions& options) {
  NB_ASSIGN_OR_RETURN(Identity identity,
                      apps::profile::LoadIdentity(apps::profile::DefaultIdentityPath()));
  NB_ASSIGN_OR_RETURN(hub::Hub * hub, ctx.OpenHub(/*create=*/false));
  engine::ProfileChange change;
  if (options.name_option->count() > 0) change.name = options.name;
  if (options.bio_option->count() > 0) change.bio = options.bio;
  auto set = engine::SetProfile(*hub, identity, change, NowMs());
  ctx.ReportIncidents();
  if (!set.ok()) return set.error();
  const apps::profile::ProfileFields& fields = set->fields;
  if (ctx.options.json) {
    PrintJson(Json{{"id", identity.id},
                   {"displayName", fields.display_name},
                   {"bio", fields.bio ? Json(*fields.bio) : Json(nullptr)},
                   {"ts", set->ts},
                   {"eventHash", set->event.Hex()}});
  } else if (!ctx.options.quiet) {
    std::cout << "You are \"" << Printable(fields.display_name, false) << "\" in hub \""
              << hub->keys().display_name() << "\"\n";
  }
  return 0;
}

Json ProfileJson(const std::string& id, const apps::profile::IdentityProfile* profile) {
  Json out{{"id", id}};
  out["displayName"] = profile ? Json(profile->profile.display_name) : Json(nullptr);
  out["bio"] = profile && profile->profile.bio ? Json(*profile->profile.bio) : Json(nullptr);
  out["updatedAt"] = profile ? Json(profile->ts) : Json(nullptr);
  out["eventHash"] = profile ? Json(profile->event_hash.Hex()) : Json(nullptr);
  return out;
}

Result<int> ProfileShow(Context& ctx, const std::string& who) {
  std::optional<Identity> own;
  if (who.empty()) {
    NB_ASSIGN_OR_RETURN(Identity identity,
                        apps::profile::LoadIdentity(apps::profile::DefaultIdentityPath()));
    own = std::move(identity);
  } else {
    NB_ASSIGN_OR_RETURN(own, OptionalIdentity());
  }
  NB_ASSIGN_OR_RETURN(Readings readings, LoadReadings(ctx));
  std::string id;
  if (who.empty()) {
    id = own->id;
  } else {
    NB_ASSIGN_OR_RETURN(id, engine::FindMember(readings, who));
  }
  const auto* profile = readings.profiles.Find(id);
  bool is_own = own && own->id == id;
  if (ctx.options.json) {
    Json out = ProfileJson(id, profile);
    out["own"] = is_own;
    PrintJson(out);
    return 0;
  }
  std::cout << "id       " << id << (is_own ? "  (you)" : "") << "\n";
  if (profile == nullptr) {
    std::cout << "name     (no profile in this hub yet; set one with "
                 "`nearbytes profile set --name ...`)\n";
  } else {
    std::cout << "name     " << Printable(profile->profile.display_name, false) << "\n";
    if (profile->profile.bio) {
      std::cout << "bio      " << Printable(*profile->profile.bio, false) << "\n";
    }
    std::cout << "updated  " << FormatTime(profile->ts) << "\n";
  }
  return 0;
}

// --- members ----------------------------------------------------------------

Result<int> Members(Context& ctx) {
  NB_ASSIGN_OR_RETURN(std::optional<Identity> own, OptionalIdentity());
  NB_ASSIGN_OR_RETURN(Readings readings, LoadReadings(ctx));
  engine::MemberList list = engine::ListMembers(readings, own ? own->id : "");
  auto profile_of = [](const engine::Member& m) { return m.profile ? &*m.profile : nullptr; };
  if (ctx.options.json) {
    Json members = Json::array();
    for (const auto& m : list.members) {
      Json item = ProfileJson(m.id, profile_of(m));
      item["messages"] = m.messages;
      item["own"] = m.own;
      members.push_back(std::move(item));
    }
    PrintJson(Json{{"hub", readings.hub->id()},
                   {"members", std::move(members)},
                   {"hubMemberMessages", list.hub_member_messages},
                   {"rejectedRecords", list.rejected_records}});
    return 0;
  }
  for (const auto& m : list.members) {
    std::cout << m.id.substr(0, 18) << "  "
              << (m.profile ? Printable(m.profile->profile.display_name, false) : "(no profile)");
    std::cout << "  " << m.messages << " message" << (m.messages == 1 ? "" : "s");
    if (m.own) std::cout << "  (you)";
    std::cout << "\n";
    if (m.profile && m.profile->profile.bio) {
      std::cout << "    " << Printable(*m.profile->profile.bio, false) << "\n";
    }
  }
  if (!ctx.options.quiet) {
    std::cout << list.members.size() << " member(s) with an identity";
    if (list.hub_member_messages > 0) {
      std::cout << "; " << list.hub_member_messages << " message(s) from unidentified members";
    }
    std::cout << "\n";
    if (list.rejected_records > 0) {
      std::cout << "ignored " << list.rejected_records
                << " profile record(s) that were malformed or not signed by their identity\n";
    }
  }
  return 0;
}

}  // namespace

void RegisterChatCommands(CLI::App& app, Context& ctx) {
  auto say_options = std::make_shared<SayOptions>();
  CLI::App* say = app.add_subcommand(
      "say", "Post a chat message to the hub, signed by your identity if you have one");
  say->add_option("message", say_options->words, "The message (words are joined; - reads stdin)")
      ->required();
  say->add_flag("--no-identity", say_options->no_identity,
                "Post as an unnamed hub member even if you have an identity");
  SetCommand(say, [&ctx, say_options] { return Say(ctx, *say_options); });

  auto chat_options = std::make_shared<ChatOptions>();
  CLI::App* chat = app.add_subcommand(
      "chat",
      "Show the hub's chat, oldest first, with each author's name and whether the "
      "signatures hold");
  chat->add_option("-n,--limit", chat_options->limit, "Show only the last N messages")
      ->type_name("N");
  chat->add_flag("-f,--follow", chat_options->follow,
                 "Keep running and print new messages as they arrive (Ctrl-C to stop)");
  chat->add_option("--follow-timeout", chat_options->follow_timeout,
                   "Stop following after SECONDS")
      ->group("");  // hidden: for tests and scripts
  SetCommand(chat, [&ctx, chat_options] { return Chat(ctx, *chat_options); });

  CLI::App* profile = app.add_subcommand("profile", "Your identity and how the hub sees you");
  profile->require_subcommand(1);
  auto init_options = std::make_shared<InitOptions>();
  CLI::App* init = profile->add_subcommand(
      "init", "Create your identity (a new key in $NEARBYTES_HOME/identity)");
  init->add_flag("--force", init_options->force, "Replace an existing identity");
  init->add_option("--from-file", init_options->from_file,
                   "Use the identity secret in FILE (e.g. from another machine)")
      ->type_name("FILE");
  SetCommand(init, [&ctx, init_options] { return ProfileInit(ctx, *init_options); });

  auto set_options = std::make_shared<SetOptions>();
  CLI::App* set = profile->add_subcommand(
      "set", "Publish your name (and bio) in the hub, signed by your identity");
  set_options->name_option =
      set->add_option("--name", set_options->name, "Your display name")->type_name("NAME");
  set_options->bio_option =
      set->add_option("--bio", set_options->bio, "A line about you (\"\" removes it)")
          ->type_name("TEXT");
  SetCommand(set, [&ctx, set_options] { return ProfileSet(ctx, *set_options); });

  auto show_who = std::make_shared<std::string>();
  CLI::App* show = profile->add_subcommand(
      "show", "Show your profile in the hub, or a member's (by name or id prefix)");
  show->add_option("member", *show_who, "A member's name or id (default: you)");
  SetCommand(show, [&ctx, show_who] { return ProfileShow(ctx, *show_who); });

  SetCommand(app.add_subcommand("members",
                                "List the hub's members: everyone with a profile or a signed "
                                "message, latest profile each"),
             [&ctx] { return Members(ctx); });
}

}  // namespace nb::cli
