// The persisted FILES projection equals a full replay, whatever batches the
// events arrive in (many landing earlier in canonical order than what was
// already folded), whichever events disappear, and whatever happens to the
// local state (deleted, damaged).
#include "apps/state/files_projection.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

#include "apps/chat/chat_reading.h"
#include "apps/hub_timeline.h"
#include "testing/test_support.h"

namespace nb::apps::state {
namespace {

using files::FilesReading;
using nb::testing::TempDir;
namespace fs = std::filesystem;

const hub::HubKeys& Keys() {
  static const auto* keys = new hub::HubKeys(*hub::HubKeys::FromSecret("files-projection:test"));
  return *keys;
}

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

// A history from several "devices": every FILES operation, parents picked
// among earlier events (some none, some a chat message), timestamps that do
// not follow the parent order, so late arrivals land early in the order.
std::vector<crypto::Hash256> MakeHistory(hub::Hub& hub, std::mt19937& rng, int count) {
  std::vector<crypto::Hash256> hashes, files_events, chat_events;
  auto path = [&] {
    std::string p = "d" + std::to_string(rng() % 3);
    if (rng() % 2) p += "/s" + std::to_string(rng() % 2);
    return p + "/f" + std::to_string(rng() % 4);
  };
  for (int i = 0; i < count; ++i) {
    std::string ts = std::to_string(1700000000000 + static_cast<int64_t>(rng() % 50000));
    if (i % 7 == 0) {
      auto payload =
          chat::BuildChatPayload(hub.keys().signing_key(), "m" + std::to_string(i), std::stoll(ts));
      auto event = hub.AppendPayload(*payload, {});
      hashes.push_back(event->hash);
      chat_events.push_back(event->hash);
      continue;
    }
    std::string payload;
    switch (rng() % 6) {
      case 0:
      case 1: {
        crypto::Hash256 content;
        content.bytes[0] = static_cast<uint8_t>(rng());
        content.bytes[1] = static_cast<uint8_t>(i);
        payload = R"({"type":"CREATE_FILE","path":)" + Quoted(path()) +
                  R"(,"content":{"protocol":"nb.content.single.v1","blockHash":")" + content.Hex() +
                  R"("},"wrappedKey":"AAAA","mimeType":"text/plain","createdAt":)" + ts + "}";
        break;
      }
      case 2:
        payload = R"({"type":"MKDIR","path":)" + Quoted(rng() % 2 ? path() : "d1/s0") +
                  R"(,"createdAt":)" + ts + "}";
        break;
      case 3:
        payload = R"({"type":"DELETE","path":)" + Quoted(rng() % 3 ? path() : "d2") +
                  R"(,"deletedAt":)" + ts + "}";
        break;
      default:
        payload = R"({"type":"RENAME","fromPath":)" + Quoted(rng() % 3 ? path() : "d0") +
                  R"(,"toPath":)" + Quoted(rng() % 3 ? path() : "d1/moved") + R"(,"renamedAt":)" +
                  ts + "}";
        break;
    }
    std::vector<crypto::Hash256> refs;
    if (!chat_events.empty() && rng() % 20 == 0) {
      refs.push_back(chat_events[rng() % chat_events.size()]);
    } else if (!files_events.empty() && rng() % 10 != 0) {
      // Mostly a recent head, sometimes an old one: concurrent branches.
      size_t back = rng() % 4 == 0 ? rng() % files_events.size() : rng() % 3;
      refs.push_back(
          files_events[files_events.size() - 1 - std::min(back, files_events.size() - 1)]);
    }
    if (!files_events.empty() && rng() % 5 == 0)
      refs.push_back(files_events[rng() % files_events.size()]);
    auto event = hub.AppendPayload(payload, refs);
    hashes.push_back(event->hash);
    files_events.push_back(event->hash);
  }
  return hashes;
}

// Everything a user can see of a reading.
void ExpectSameReading(const FilesReading& got, const FilesReading& want,
                       const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(got.files_order(), want.files_order());
  ASSERT_EQ(got.files().size(), want.files().size());
  for (const auto& [path, entry] : want.files()) {
    auto it = got.files().find(path);
    ASSERT_NE(it, got.files().end()) << path;
    EXPECT_EQ(it->second.content, entry.content) << path;
    EXPECT_EQ(it->second.wrapped_key, entry.wrapped_key) << path;
    EXPECT_EQ(it->second.modified_ms, entry.modified_ms) << path;
    EXPECT_EQ(it->second.mime_type, entry.mime_type) << path;
    EXPECT_EQ(it->second.origin_event, entry.origin_event) << path;
  }
  EXPECT_EQ(got.explicit_dirs(), want.explicit_dirs());
  EXPECT_EQ(got.max_timestamp(), want.max_timestamp());
  EXPECT_EQ(got.observed_head(), want.observed_head());
  ASSERT_EQ(got.conflicts().size(), want.conflicts().size());
  for (size_t i = 0; i < want.conflicts().size(); ++i) {
    EXPECT_EQ(got.conflicts()[i].path, want.conflicts()[i].path);
    EXPECT_EQ(got.conflicts()[i].live_event, want.conflicts()[i].live_event);
    EXPECT_EQ(got.conflicts()[i].other_events, want.conflicts()[i].other_events);
  }
  std::vector<std::string> paths;
  for (const auto& [path, entry] : want.files()) paths.push_back(path);
  for (const auto& dir : want.Directories()) paths.push_back(dir.path);
  for (const char* gone : {"d0", "d2", "d1/moved", "d0/f1", "d2/s1/f3"}) paths.push_back(gone);
  for (const auto& path : paths) {
    EXPECT_EQ(got.LastEventAt(path), want.LastEventAt(path)) << path;
    auto got_history = got.History(path), want_history = want.History(path);
    ASSERT_EQ(got_history.size(), want_history.size()) << path;
    for (size_t i = 0; i < want_history.size(); ++i) {
      EXPECT_EQ(got_history[i].event, want_history[i].event) << path;
      EXPECT_EQ(got_history[i].content, want_history[i].content) << path;
    }
  }
}

struct Target {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<hub::Hub> hub;
  std::unique_ptr<StateDb> db;
  std::unique_ptr<EventIndex> index;

  Target() {
    store = std::move(*store::Store::Open({dir.path()}, true));
    hub = std::move(*hub::Hub::Open(store.get(), Keys(), true));
    Reopen();
  }
  void Reopen() {
    index.reset();
    db = std::move(*StateDb::Open(dir / ".nearbytes" / "state.sqlite"));
    index = std::make_unique<EventIndex>(db.get(), hub.get());
  }
  fs::path channel() const { return store->primary().channel_dir(hub->id()); }
};

// Checkpoints every 8 positions; the first test keeps all of them so that
// late arrivals rewind to one, the others keep the latest 4.
constexpr FilesProjectionOptions kSmallCheckpoints{8, 4};
constexpr FilesProjectionOptions kManyCheckpoints{8, 64};

TEST(FilesProjection, IncrementalLoadsEqualAFullReplay) {
  size_t rewinds = 0, unchanged = 0;
  for (uint32_t seed : {11u, 12u, 13u, 14u}) {
    std::mt19937 rng(seed);
    TempDir source_dir;
    auto source_store = std::move(*store::Store::Open({source_dir.path()}, true));
    auto source = std::move(*hub::Hub::Open(source_store.get(), Keys(), true));
    auto hashes = MakeHistory(*source, rng, 260);
    fs::path from = source_store->primary().channel_dir(source->id());

    Target target;
    std::shuffle(hashes.begin(), hashes.end(), rng);
    size_t copied = 0, last_events = 0;
    while (copied < hashes.size()) {
      size_t batch = 1 + rng() % 23;
      for (size_t i = 0; i < batch && copied < hashes.size(); ++i, ++copied) {
        std::string name = hashes[copied].Hex() + ".bin";
        fs::copy_file(from / name, target.channel() / name);
      }
      if (rng() % 6 == 0) {  // some vanish (quarantined by another process, say)
        fs::remove(target.channel() / (hashes[rng() % copied].Hex() + ".bin"));
      }
      ASSERT_TRUE(target.index->Refresh().ok());
      FilesProjectionReport report;
      auto projected = LoadFilesReading(*target.index, kManyCheckpoints, &report);
      ASSERT_TRUE(projected.ok()) << projected.error().message;
      if (report.resumed_at > 0 && report.resumed_at < last_events) ++rewinds;
      last_events = report.events;
      ExpectSameReading(*projected, FilesReading::Replay(*target.index->LoadAll()),
                        "seed " + std::to_string(seed) + " after " + std::to_string(copied));
      if (HasFatalFailure()) return;
    }

    // Reopening with nothing new folds nothing, and still reads the same.
    target.Reopen();
    ASSERT_TRUE(target.index->Refresh().ok());
    FilesProjectionReport report;
    auto again = LoadFilesReading(*target.index, kManyCheckpoints, &report);
    ASSERT_TRUE(again.ok());
    if (report.folded == 0 && report.resumed_at == report.events) ++unchanged;
    auto full = LoadTimelineUncached(*target.hub);
    ASSERT_TRUE(full.ok());
    ExpectSameReading(*again, FilesReading::Replay(full->events), "reopen, against the files");
  }
  EXPECT_GT(rewinds, 10u) << "late events should have rewound to a checkpoint";
  EXPECT_EQ(unchanged, 4u);
}

TEST(FilesProjection, DeletedOrDamagedStateIsRebuilt) {
  std::mt19937 rng(21);
  Target target;
  MakeHistory(*target.hub, rng, 120);
  ASSERT_TRUE(target.index->Refresh().ok());
  auto want = FilesReading::Replay(*target.index->LoadAll());
  ASSERT_TRUE(LoadFilesReading(*target.index, kSmallCheckpoints).ok());

  // Every stored state damaged: each is rejected in turn, the result stands.
  // (The last byte always changes: a state that already ended in 0x00 got
  // 0x00 again and was, rightly, accepted.)
  ASSERT_TRUE(target.db
                  ->Exec("UPDATE files_state SET state = substr(state, 1, length(state) - 1) || "
                         "CASE WHEN substr(state, -1) = x'00' THEN x'01' ELSE x'00' END")
                  .ok());
  FilesProjectionReport report;
  auto damaged = LoadFilesReading(*target.index, kSmallCheckpoints, &report);
  ASSERT_TRUE(damaged.ok());
  EXPECT_TRUE(report.state_rejected);
  EXPECT_EQ(report.resumed_at, 0u);
  ExpectSameReading(*damaged, want, "damaged states");
  // ... and what it saved instead is good.
  auto healed = LoadFilesReading(*target.index, kSmallCheckpoints, &report);
  ASSERT_TRUE(healed.ok());
  EXPECT_FALSE(report.state_rejected);
  EXPECT_EQ(report.folded, 0u);

  // A stored order cut short is not trusted at all, epoch or not.
  ASSERT_TRUE(
      target.db->Exec("UPDATE files_nodes SET nodes = substr(nodes, 1, 32 + 20 * 45)").ok());
  auto gapped = LoadFilesReading(*target.index, kSmallCheckpoints, &report);
  ASSERT_TRUE(gapped.ok());
  EXPECT_FALSE(report.order_trusted);
  EXPECT_EQ(report.resumed_at, 0u);
  ExpectSameReading(*gapped, want, "order cut short");

  // The whole local state deleted: rebuilt from the event files.
  target.index.reset();
  target.db.reset();
  fs::remove_all(target.dir / ".nearbytes");
  target.Reopen();
  ASSERT_TRUE(target.index->Refresh().ok());
  auto rebuilt = LoadFilesReading(*target.index, kSmallCheckpoints, &report);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(report.resumed_at, 0u);
  ExpectSameReading(*rebuilt, want, "rebuilt");
}

TEST(FilesProjection, SavedStateRoundTripsAndRejectsDamage) {
  std::mt19937 rng(31);
  Target target;
  MakeHistory(*target.hub, rng, 90);
  ASSERT_TRUE(target.index->Refresh().ok());
  auto events = *target.index->LoadAll();
  auto want = FilesReading::Replay(events);
  auto keys = *target.index->FilesOrderKeys();
  std::vector<files::OrderNode> ordered;
  for (size_t i : files::CanonicalOrder(keys)) ordered.push_back(keys[i]);
  ASSERT_EQ(ordered.size(), want.size());
  std::string state = want.SaveState();

  std::unordered_map<crypto::Hash256, files::DecodedEvent> by_hash;
  for (const auto& event : events) by_hash.emplace(event.hash, event);
  files::EventLookup lookup = [&by_hash](const crypto::Hash256& hash) {
    auto it = by_hash.find(hash);
    return it == by_hash.end() ? std::nullopt : std::optional<files::DecodedEvent>(it->second);
  };
  auto resumed = FilesReading::Resume(ordered, ordered.size(), state, {}, lookup);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->files_order(), want.files_order());
  EXPECT_EQ(resumed->explicit_dirs(), want.explicit_dirs());
  EXPECT_EQ(resumed->conflicts().size(), want.conflicts().size());
  // Each path's last event, history and heads are parsed on first use;
  // what they hold must be what was saved.
  ASSERT_FALSE(want.conflicts().empty());
  ExpectSameReading(*resumed, want, "resumed");
  auto again = FilesReading::Resume(ordered, ordered.size(), resumed->SaveState(), {}, lookup);
  ASSERT_TRUE(again.ok());
  ExpectSameReading(*again, want, "saved again");

  // Truncated, a flipped byte anywhere, or a state for another position.
  for (size_t cut : {size_t{0}, size_t{5}, state.size() / 2, state.size() - 1}) {
    EXPECT_FALSE(
        FilesReading::Resume(ordered, ordered.size(), state.substr(0, cut), {}, nullptr).ok());
  }
  for (size_t at = 0; at < state.size(); at += 1 + state.size() / 64) {
    std::string flipped = state;
    flipped[at] ^= 0x10;
    EXPECT_FALSE(FilesReading::Resume(ordered, ordered.size(), flipped, {}, nullptr).ok()) << at;
  }
  std::vector<files::DecodedEvent> last;
  for (const auto& event : events) {
    if (event.hash == ordered.back().hash) last.push_back(event);
  }
  ASSERT_EQ(last.size(), 1u);
  EXPECT_FALSE(FilesReading::Resume(ordered, ordered.size() - 1, state, last, nullptr).ok());
}

}  // namespace
}  // namespace nb::apps::state
