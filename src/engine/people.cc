#include "engine/people.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "apps/hub_summary.h"
#include "apps/hub_timeline.h"

namespace nb::engine {

using apps::chat::ChatReading;
using apps::profile::Identity;
using apps::profile::ProfileReading;

Result<Readings> LoadReadings(hub::Hub& hub, size_t chat_limit, bool count_skipped) {
  Readings out;
  out.hub = &hub;
  auto db = apps::OpenStateDb(hub.store());
  if (db.ok()) {
    apps::state::EventIndex index(db->get(), &hub);
    index.KeepAdded(false);
    NB_RETURN_IF_ERROR(index.Refresh());
    NB_ASSIGN_OR_RETURN(auto messages, index.ChatMessages(chat_limit));
    size_t skipped = 0;
    if (count_skipped) {
      NB_ASSIGN_OR_RETURN(size_t chat_events, index.KindCount(apps::state::kKindChat));
      NB_ASSIGN_OR_RETURN(size_t chat_rows, index.ChatCount());
      skipped = chat_events - std::min(chat_events, chat_rows);
    }
    out.chat.emplace(
        ChatReading::FromMessages(hub.keys().public_key(), std::move(messages), skipped));
    NB_ASSIGN_OR_RETURN(auto identities, index.LoadAll(apps::state::kKindIdentity));
    out.profiles = ProfileReading::Replay(identities);
    return out;
  }
  NB_ASSIGN_OR_RETURN(apps::HubTimeline timeline, apps::LoadTimelineUncached(hub));
  out.chat.emplace(ChatReading::Replay(hub.keys().public_key(), timeline.events));
  out.profiles = ProfileReading::Replay(timeline.events);
  return out;
}

std::vector<apps::chat::ChatMessage> ApplyNewEvents(Readings& readings,
                                                    const std::vector<log::ValidEvent>& events) {
  std::vector<apps::files::DecodedEvent> decoded;
  for (const auto& event : events) {
    if (auto d = apps::DecodeValidEvent(*readings.hub, event)) decoded.push_back(std::move(*d));
  }
  for (const auto& d : decoded) readings.profiles.Apply(d);
  std::vector<apps::chat::ChatMessage> messages;
  for (const auto& d : decoded) {
    if (auto message = readings.chat->Apply(d)) messages.push_back(std::move(*message));
  }
  return messages;
}

Result<std::optional<Identity>> OptionalIdentity() {
  auto identity = apps::profile::LoadIdentity(apps::profile::DefaultIdentityPath());
  if (identity.ok()) return std::optional<Identity>(std::move(*identity));
  if (identity.error().code == ErrorCode::kNotFound) return std::optional<Identity>();
  return identity.error();
}

Result<Said> Say(hub::Hub& hub, std::string_view raw_body, const Identity* author, int64_t now_ms) {
  NB_ASSIGN_OR_RETURN(std::string body, apps::chat::NormalizeBody(raw_body));
  NB_ASSIGN_OR_RETURN(std::string payload,
                      apps::chat::BuildChatPayload(hub.keys().signing_key(), body, now_ms,
                                                   author ? &author->signing_key : nullptr));
  NB_ASSIGN_OR_RETURN(log::ValidEvent event, hub.AppendPayload(payload, {}));
  return Said{event.hash, now_ms, std::move(body)};
}

Result<ProfileSet> SetProfile(hub::Hub& hub, const Identity& identity, const ProfileChange& change,
                              int64_t now_ms) {
  NB_ASSIGN_OR_RETURN(Readings readings, LoadReadings(hub));
  const auto* current = readings.profiles.Find(identity.id);
  std::string name;
  if (change.name) {
    name = *change.name;
  } else if (current != nullptr) {
    name = current->profile.display_name;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--name is required: you have no profile in this hub yet");
  }
  // Without a new bio the current one stays; "" removes it.
  std::optional<std::string> bio = change.bio;
  if (!bio && current != nullptr) bio = current->profile.bio;
  NB_ASSIGN_OR_RETURN(apps::profile::ProfileFields fields,
                      apps::profile::NormalizeProfile(
                          name, bio ? std::optional<std::string_view>(*bio) : std::nullopt));
  // The latest record wins by ts: never go back in time, even if the clock did.
  int64_t ts = now_ms;
  if (current != nullptr) ts = std::max(ts, current->ts + 1);
  std::string payload =
      apps::profile::BuildIdentityPayload(identity.signing_key, hub.id(), fields, ts);
  NB_ASSIGN_OR_RETURN(log::ValidEvent event, hub.AppendPayload(payload, {}));
  return ProfileSet{std::move(fields), ts, event.hash};
}

Result<std::string> FindMember(const Readings& readings, const std::string& who) {
  std::vector<std::string> matches;
  for (const auto& [candidate, profile] : readings.profiles.identities()) {
    if (candidate == who || (who.size() >= 4 && candidate.rfind(who, 0) == 0) ||
        profile.profile.display_name == who) {
      matches.push_back(candidate);
    }
  }
  if (matches.empty()) {
    return MakeError(ErrorCode::kNotFound, "no member \"" + who + "\" in this hub");
  }
  if (matches.size() > 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "\"" + who + "\" names " + std::to_string(matches.size()) +
                         " members; give more of the id (see `nearbytes members`)");
  }
  return matches[0];
}

MemberList ListMembers(const Readings& readings, const std::string& own_id) {
  MemberList out;
  // Everyone with a profile, and everyone who signed a message without one.
  std::map<std::string, size_t> message_counts;
  for (const auto& message : readings.chat->messages()) {
    if (message.author_status == apps::chat::AuthorStatus::kSigned) {
      ++message_counts[message.author_id];
    } else {
      ++out.hub_member_messages;
    }
  }
  std::vector<std::string> ids;
  for (const auto& [id, profile] : readings.profiles.identities()) ids.push_back(id);
  for (const auto& [id, count] : message_counts) {
    if (readings.profiles.Find(id) == nullptr) ids.push_back(id);
  }
  auto sort_key = [&](const std::string& id) {
    const auto* profile = readings.profiles.Find(id);
    return std::make_tuple(profile == nullptr, profile ? profile->profile.display_name : "", id);
  };
  std::sort(ids.begin(), ids.end(),
            [&](const std::string& a, const std::string& b) { return sort_key(a) < sort_key(b); });
  for (const auto& id : ids) {
    Member member;
    member.id = id;
    if (const auto* profile = readings.profiles.Find(id)) member.profile = *profile;
    auto count = message_counts.find(id);
    member.messages = count == message_counts.end() ? 0 : count->second;
    member.own = !own_id.empty() && own_id == id;
    out.members.push_back(std::move(member));
  }
  out.rejected_records = readings.profiles.rejected();
  return out;
}

}  // namespace nb::engine
