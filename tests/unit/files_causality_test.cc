// The FILES canonical order and conflict rules where tests used to be
// silent: ties between equal timestamps, and causal order through parent
// links that the blockRefs do not spell out. Expected results come from
// FORMAT.md §5, not from the code under test.
#include <gtest/gtest.h>

#include "apps/files/files_reading.h"

namespace nb::apps::files {
namespace {

Hash256 HashOf(uint64_t seed) {
  Hash256 h;
  uint64_t x = seed;
  for (size_t i = 0; i < h.bytes.size(); i += 8) {
    x += 0x9e3779b97f4a7c15;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    z ^= z >> 31;
    for (size_t j = 0; j < 8; ++j) h.bytes[i + j] = static_cast<uint8_t>(z >> (8 * j));
  }
  return h;
}

// A CREATE_FILE as our writer would decode it: refs = [parent?, content].
DecodedEvent Create(uint64_t id, int64_t ts, const std::string& path,
                    std::optional<Hash256> parent = std::nullopt) {
  DecodedEvent e;
  e.hash = HashOf(id);
  e.timestamp = ts;
  if (parent) e.block_refs.push_back(*parent);
  FilesEvent f;
  f.op = FileOp::kCreateFile;
  f.path = path;
  f.content = ContentRef{ContentRef::Kind::kSingle, HashOf(id + 1000000)};
  e.block_refs.push_back(f.content->hash);
  e.files = std::move(f);
  return e;
}

TEST(FilesCanonicalOrder, EqualTimestampsAreOrderedBySmallerHashFirstSoTheLargerWins) {
  // FORMAT.md §5: among ready events the smallest timestamp, then the
  // smallest event hash; the later event in canonical order wins.
  for (uint64_t round = 0; round < 20; ++round) {
    auto a = Create(10 * round + 1, 1700000000000, "same.txt");
    auto b = Create(10 * round + 2, 1700000000000, "same.txt");
    auto c = Create(10 * round + 3, 1700000000000, "same.txt");
    // The expected winner by lower-case hex comparison (byte order).
    std::vector<std::string> hexes{a.hash.Hex(), b.hash.Hex(), c.hash.Hex()};
    std::sort(hexes.begin(), hexes.end());
    for (auto input : {std::vector<DecodedEvent>{a, b, c}, std::vector<DecodedEvent>{c, b, a},
                       std::vector<DecodedEvent>{b, c, a}}) {
      FilesReading reading = FilesReading::Replay(input);
      std::vector<std::string> order;
      for (const auto& h : reading.files_order()) order.push_back(h.Hex());
      EXPECT_EQ(order, hexes);
      EXPECT_EQ(reading.files().at("same.txt").origin_event.Hex(), hexes.back());
      ASSERT_EQ(reading.conflicts().size(), 1u);
      EXPECT_EQ(reading.conflicts()[0].live_event.Hex(), hexes.back());
    }
  }
}

TEST(FilesCanonicalOrder, AnEarlierTimestampComesFirstWhateverItsHash) {
  auto a = Create(1, 1000, "t.txt");
  auto b = Create(2, 1001, "t.txt");
  FilesReading r1 = FilesReading::Replay({a, b});
  EXPECT_EQ(r1.files().at("t.txt").origin_event, b.hash);
  // Same events with the timestamps swapped: the other one wins.
  a.timestamp = 1001;
  b.timestamp = 1000;
  FilesReading r2 = FilesReading::Replay({a, b});
  EXPECT_EQ(r2.files().at("t.txt").origin_event, a.hash);
}

// A writes p; B writes q with parent A; C writes p with parent B. C's
// blockRefs do not name A (a writer that does not list the path's previous
// event, e.g. an older client), yet C descends from A through B: C saw A,
// there is no conflict.
TEST(FilesConflicts, ACausalChainThroughAnotherPathIsNotAConflict) {
  auto a = Create(1, 1000, "p.txt");
  auto b = Create(2, 1001, "q.txt", a.hash);
  auto c = Create(3, 999, "p.txt", b.hash);  // a slow clock does not matter either
  ASSERT_EQ(std::count(c.block_refs.begin(), c.block_refs.end(), a.hash), 0);
  FilesReading reading = FilesReading::Replay({c, b, a});
  EXPECT_TRUE(reading.conflicts().empty());
  EXPECT_EQ(reading.files().at("p.txt").origin_event, c.hash);

  // The same with a longer detour.
  std::vector<DecodedEvent> chain{a};
  for (uint64_t i = 0; i < 50; ++i) {
    chain.push_back(Create(100 + i, 2000 + i, "other-" + std::to_string(i), chain.back().hash));
  }
  chain.push_back(Create(200, 3000, "p.txt", chain.back().hash));
  FilesReading long_reading = FilesReading::Replay(chain);
  EXPECT_TRUE(long_reading.conflicts().empty());
}

TEST(FilesConflicts, ACausalChainIsNotAConflictForEventsAppendedLocally) {
  // A replayed, B and C appended by this process (no DFS interval yet).
  auto a = Create(1, 1000, "p.txt");
  FilesReading reading = FilesReading::Replay({a});
  reading.AppendLocal(Create(2, 1001, "q.txt", a.hash));
  reading.AppendLocal(Create(3, 1002, "r.txt", *reading.observed_head()));
  reading.AppendLocal(Create(4, 1003, "p.txt", *reading.observed_head()));
  EXPECT_TRUE(reading.conflicts().empty());
  EXPECT_TRUE(reading.ConflictingEvents("p.txt").empty());

  // Replayed A and B, appended C: the same.
  auto b = Create(2, 1001, "q.txt", a.hash);
  FilesReading mixed = FilesReading::Replay({a, b});
  mixed.AppendLocal(Create(4, 1003, "p.txt", b.hash));
  EXPECT_TRUE(mixed.conflicts().empty());
}

TEST(FilesConflicts, WritersThatDidNotSeeEachOtherConflictEvenThroughOtherPaths) {
  // The control: C's chain goes through B, which does not descend from A.
  auto a = Create(1, 1000, "p.txt");
  auto b = Create(2, 1001, "q.txt");  // no parent: concurrent with A
  auto c = Create(3, 1002, "p.txt", b.hash);
  FilesReading reading = FilesReading::Replay({a, b, c});
  ASSERT_EQ(reading.conflicts().size(), 1u);
  EXPECT_EQ(reading.conflicts()[0].path, "p.txt");
  EXPECT_EQ(reading.conflicts()[0].live_event, c.hash);
  EXPECT_EQ(reading.conflicts()[0].other_events, std::vector<Hash256>{a.hash});

  // Appended locally, C' names A's conflict loser: resolved.
  FilesReading local = FilesReading::Replay({a, b, c});
  auto resolve = Create(4, 1003, "p.txt", *local.observed_head());
  resolve.block_refs.push_back(a.hash);
  local.AppendLocal(resolve);
  EXPECT_TRUE(local.conflicts().empty());
}

TEST(FilesTree, AFileWrittenBelowAFileTurnsItIntoADirectory) {
  // FORMAT.md §5: CREATE_FILE creates missing ancestors as directories, and
  // the later event wins, dir over file included.
  auto file = Create(1, 1000, "a/b");
  auto below = Create(2, 1001, "a/b/c/d.txt", file.hash);
  FilesReading reading = FilesReading::Replay({file, below});
  EXPECT_FALSE(reading.IsFile("a/b"));
  EXPECT_TRUE(reading.IsDirectory("a/b"));
  EXPECT_TRUE(reading.IsFile("a/b/c/d.txt"));
  ASSERT_EQ(reading.files().size(), 1u);
  // Appended locally: the same.
  FilesReading local = FilesReading::Replay({file});
  local.AppendLocal(Create(2, 1001, "a/b/c/d.txt", file.hash));
  EXPECT_FALSE(local.IsFile("a/b"));
  EXPECT_EQ(local.files().size(), 1u);
}

}  // namespace
}  // namespace nb::apps::files
