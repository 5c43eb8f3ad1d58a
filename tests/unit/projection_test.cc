// The persisted projections equal a full replay, whatever batches the
// events arrive in and whichever events disappear.
#include <gtest/gtest.h>

#include <random>

#include "apps/chat/chat_reading.h"
#include "apps/hub_timeline.h"
#include "apps/state/event_index.h"
#include "testing/test_support.h"

namespace nb::apps::state {
namespace {

using nb::testing::TempDir;
namespace fs = std::filesystem;

const hub::HubKeys& Keys() {
  static const auto* keys = new hub::HubKeys(*hub::HubKeys::FromSecret("projection:test"));
  return *keys;
}

// A source hub with interleaved chat messages and file operations from two
// "devices" (two parents for some events), plus an undecodable event.
std::vector<crypto::Hash256> MakeHistory(hub::Hub& hub, std::mt19937& rng) {
  std::vector<crypto::Hash256> hashes;
  std::vector<crypto::Hash256> heads;
  for (int i = 0; i < 80; ++i) {
    int64_t ts = 1700000000000 + static_cast<int64_t>(rng() % 100000);
    if (i % 3 == 0) {
      auto payload =
          chat::BuildChatPayload(hub.keys().signing_key(), "message " + std::to_string(i), ts);
      hashes.push_back(hub.AppendPayload(*payload, {})->hash);
      continue;
    }
    std::string path = "dir" + std::to_string(rng() % 3) + "/f" + std::to_string(rng() % 5);
    std::string payload =
        rng() % 4 == 0
            ? R"({"type":"DELETE","path":")" + path + R"(","deletedAt":)" + std::to_string(ts) + "}"
            : R"({"type":"MKDIR","path":")" + path + R"(","createdAt":)" + std::to_string(ts) + "}";
    std::vector<crypto::Hash256> refs;
    if (!heads.empty()) refs.push_back(heads[rng() % heads.size()]);
    auto event = hub.AppendPayload(payload, refs);
    heads.push_back(event->hash);
    hashes.push_back(event->hash);
  }
  // Valid envelope, ciphertext under another key: undecodable.
  auto other = hub.log().Append(hub.keys().signing_key(), {},
                                crypto::AesGcmEncrypt(crypto::SymmetricKey{}, AsBytes("{}")));
  hashes.push_back(other->hash);
  return hashes;
}

std::vector<std::string> Bodies(const std::vector<chat::ChatMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.body + "@" + m.event_hash.Hex());
  return out;
}

TEST(Projection, AnyBatchesAndRemovalsEqualAFullReplay) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    TempDir source_dir, target_dir;
    auto source_store = std::move(*store::Store::Open({source_dir.path()}, true));
    auto source = std::move(*hub::Hub::Open(source_store.get(), Keys(), true));
    auto hashes = MakeHistory(*source, rng);

    auto target_store = std::move(*store::Store::Open({target_dir.path()}, true));
    auto target = std::move(*hub::Hub::Open(target_store.get(), Keys(), true));
    auto db = std::move(*StateDb::Open(target_dir / ".nearbytes" / "state.sqlite"));
    EventIndex index(db.get(), target.get());
    std::shuffle(hashes.begin(), hashes.end(), rng);
    fs::path from = source_store->primary().channel_dir(source->id());
    fs::path to = target_store->primary().channel_dir(target->id());
    size_t copied = 0;
    while (copied < hashes.size()) {
      size_t batch = 1 + rng() % 17;
      for (size_t i = 0; i < batch && copied < hashes.size(); ++i, ++copied) {
        std::string name = hashes[copied].Hex() + ".bin";
        fs::copy_file(from / name, to / name);
      }
      ASSERT_TRUE(index.Refresh().ok());
    }
    // Some events vanish (quarantined by another process, say).
    for (int i = 0; i < 5; ++i) fs::remove(to / (hashes[rng() % hashes.size()].Hex() + ".bin"));
    ASSERT_TRUE(index.Refresh().ok());

    auto full = LoadTimelineUncached(*target);
    ASSERT_TRUE(full.ok());
    auto chat_replay = chat::ChatReading::Replay(target->keys().public_key(), full->events);
    auto projected = index.ChatMessages();
    ASSERT_TRUE(projected.ok());
    EXPECT_EQ(Bodies(*projected), Bodies(chat_replay.messages())) << "seed " << seed;
    auto last = index.ChatMessages(3);
    ASSERT_EQ(last->size(), std::min<size_t>(3, chat_replay.messages().size()));
    EXPECT_EQ(last->back(), chat_replay.messages().back());

    auto indexed = index.LoadAll();
    auto files_indexed = files::FilesReading::Replay(*indexed);
    auto files_full = files::FilesReading::Replay(full->events);
    EXPECT_EQ(files_indexed.files_order(), files_full.files_order());
    EXPECT_EQ(files_indexed.explicit_dirs(), files_full.explicit_dirs());
    EXPECT_EQ(*index.UndecodableCount(), full->undecodable);
  }
}

TEST(Projection, DeletingTheStateRebuildsTransparently) {
  TempDir dir;
  std::mt19937 rng(5);
  auto store = std::move(*store::Store::Open({dir.path()}, true));
  auto hub = std::move(*hub::Hub::Open(store.get(), Keys(), true));
  MakeHistory(*hub, rng);
  auto first = LoadTimeline(*hub);
  ASSERT_TRUE(first.ok());
  fs::remove_all(dir / ".nearbytes");
  auto rebuilt = LoadTimeline(*hub);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->events.size(), first->events.size());
  EXPECT_TRUE(fs::exists(dir / ".nearbytes" / "state.sqlite"));
  auto again = LoadTimeline(*hub);
  EXPECT_EQ(again->events.size(), first->events.size());
}

}  // namespace
}  // namespace nb::apps::state
