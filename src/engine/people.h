// Chat, profiles and members of a hub: the readings (the chat and profile
// projections) and the operations on them. Authors sign with the identity
// of this machine ($NEARBYTES_HOME/identity, apps/profile/identity.h), one
// for every hub; without one a message is signed by the hub key alone.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "apps/chat/chat_reading.h"
#include "apps/profile/identity.h"
#include "apps/profile/profile_reading.h"
#include "hub/hub.h"
#include "log/event.h"

namespace nb::engine {

struct Readings {
  hub::Hub* hub = nullptr;
  std::optional<apps::chat::ChatReading> chat;  // always set once loaded
  apps::profile::ProfileReading profiles;
};

// The chat comes from the store's persisted projection (only new events
// cost a signature check; the last `chat_limit` messages are read, 0 = all),
// the profiles from the identity records alone. Without a usable state
// database (a read-only store) everything is replayed. `count_skipped`
// counts the chat records the projection left out (scans the hub's index).
// Quarantine incidents stay in the store for the caller to take.
Result<Readings> LoadReadings(hub::Hub& hub, size_t chat_limit = 0, bool count_skipped = false);

// Applies events that arrived after LoadReadings (e.g. from a
// log::ChannelWatcher): profiles first, so a message and its author's new
// name arriving together read with that name. Returns the new messages.
std::vector<apps::chat::ChatMessage> ApplyNewEvents(Readings& readings,
                                                    const std::vector<log::ValidEvent>& events);

// The identity file at its default place, if there is one. A missing file
// is not an error; an unreadable or unsafe one is.
Result<std::optional<apps::profile::Identity>> OptionalIdentity();

struct Said {
  crypto::Hash256 event;
  int64_t published_at = 0;  // ms
  std::string body;          // as stored (trimmed)
};

// say: posts `body` (apps::chat::NormalizeBody rules), signed by `author`
// when given.
Result<Said> Say(hub::Hub& hub, std::string_view body, const apps::profile::Identity* author,
                 int64_t now_ms);

struct ProfileChange {
  std::optional<std::string> name;  // nullopt: keep the current one (required if none)
  std::optional<std::string> bio;   // nullopt: keep; "" removes it
};

struct ProfileSet {
  apps::profile::ProfileFields fields;
  int64_t ts = 0;  // never earlier than the current record's, even if the clock went back
  crypto::Hash256 event;
};

// profile set: publishes `identity`'s profile in the hub.
Result<ProfileSet> SetProfile(hub::Hub& hub, const apps::profile::Identity& identity,
                              const ProfileChange& change, int64_t now_ms);

// The member `who` names: a full id, an id prefix (4+ characters) or a
// display name; it must name exactly one member with a profile.
Result<std::string> FindMember(const Readings& readings, const std::string& who);

struct Member {
  std::string id;
  std::optional<apps::profile::IdentityProfile> profile;  // latest; nullopt: none
  size_t messages = 0;                                    // signed by this identity
  bool own = false;                                       // the identity of this machine
};

struct MemberList {
  // Everyone with a profile and everyone who signed a message without one;
  // named members first, by name, then by id.
  std::vector<Member> members;
  size_t hub_member_messages = 0;  // messages from members without an identity
  size_t rejected_records = 0;     // profile records malformed or not signed by their identity
};

// members: `own_id` marks this machine's identity ("" = none).
MemberList ListMembers(const Readings& readings, const std::string& own_id);

}  // namespace nb::engine
