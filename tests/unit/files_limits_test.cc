// Limits of the FILES reading (docs/format-notes.md) and its cost: an event
// whose path goes beyond a limit changes nothing, and what one member
// writes cannot make any reading quadratic.
//
// The cost tests use sizes where the quadratic versions took seconds to
// minutes (or gigabytes) and the linear ones take a fraction of a second;
// their time bounds are ten or more times what they need on a loaded
// 2-core machine, so they only fail on a change of complexity.
#include <gtest/gtest.h>

#include <chrono>

#include "apps/files/files_reading.h"

namespace nb::apps::files {
namespace {

// Arbitrary distinct hashes (splitmix64): no crypto is needed here.
Hash256 FakeHash(uint32_t n) {
  Hash256 h;
  uint64_t x = n;
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

DecodedEvent Op(uint32_t id, int64_t ts, FileOp op, std::string path, std::string to = "",
                std::optional<Hash256> parent = std::nullopt) {
  DecodedEvent e;
  e.hash = FakeHash(id);
  e.timestamp = ts;
  if (parent) e.block_refs.push_back(*parent);
  FilesEvent f;
  f.op = op;
  f.path = std::move(path);
  f.to_path = std::move(to);
  f.usable = IsValidHubPath(f.path) && (op != FileOp::kRename || IsValidHubPath(f.to_path));
  if (op == FileOp::kCreateFile) {
    f.content = ContentRef{ContentRef::Kind::kSingle, FakeHash(1000000 + id)};
    e.block_refs.push_back(f.content->hash);
  }
  e.files = std::move(f);
  return e;
}

std::string Repeat(std::string_view part, size_t times, char separator = '/') {
  std::string out;
  for (size_t i = 0; i < times; ++i) {
    if (i) out += separator;
    out += part;
  }
  return out;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(FilesLimits, PathLimitsAreTheDocumentedOnes) {
  // The values written in docs/format-notes.md; changing one changes the format.
  EXPECT_EQ(kMaxHubPathBytes, 4096u);
  EXPECT_EQ(kMaxHubPathSegmentBytes, 1024u);
  EXPECT_EQ(kMaxHubPathDepth, 256u);

  EXPECT_TRUE(IsValidHubPath(std::string(1024, 'n')));
  EXPECT_FALSE(IsValidHubPath(std::string(1025, 'n')));
  EXPECT_TRUE(IsValidHubPath("dir/" + std::string(1024, 'n')));
  EXPECT_FALSE(IsValidHubPath("dir/" + std::string(1025, 'n') + "/x"));

  EXPECT_TRUE(IsValidHubPath(Repeat("d", 256)));
  EXPECT_FALSE(IsValidHubPath(Repeat("d", 257)));

  // 4 segments of 1023 bytes and 3 slashes: 4095 bytes, then one more.
  std::string at_limit = Repeat(std::string(1023, 'x'), 4) + "y";
  ASSERT_EQ(at_limit.size(), 4096u);
  EXPECT_TRUE(IsValidHubPath(at_limit));
  EXPECT_FALSE(IsValidHubPath(at_limit + "z"));

  // The writer's message says which limit.
  EXPECT_NE(HubPathProblem(Repeat("d", 257))->find("deeper than 256"), std::string::npos);
  EXPECT_NE(HubPathProblem(std::string(1025, 'n'))->find("longer than 1024"), std::string::npos);
  EXPECT_NE(HubPathProblem(at_limit + "z")->find("longer than 4096"), std::string::npos);
  // Multi-byte names count bytes: 255 CJK characters are 765 bytes, still fine.
  std::string cjk;
  for (int i = 0; i < 255; ++i) cjk += "\xE6\x96\x87";
  EXPECT_TRUE(IsValidHubPath("docs/" + cjk));
}

TEST(FilesLimits, EventsBeyondTheLimitsChangeNothing) {
  auto good = Op(1, 1000, FileOp::kCreateFile, "a/ok.txt");
  auto deep = Op(2, 1001, FileOp::kCreateFile, Repeat("d", 257), "", good.hash);
  auto wide = Op(3, 1002, FileOp::kMkdir, "a/" + std::string(1025, 'w'), "", deep.hash);
  auto onto = Op(4, 1003, FileOp::kRename, "a/ok.txt", Repeat("r", 300), wide.hash);
  auto drop = Op(5, 1004, FileOp::kDelete, "a/" + std::string(5000, 'z'), "", onto.hash);
  // Decoded from JSON, the same rule applies.
  std::string payload = R"({"type":"MKDIR","path":")" + Repeat("j", 257) + R"(","createdAt":1005})";
  auto decoded = DecodeEvent(FakeHash(6), {drop.hash}, payload);
  ASSERT_TRUE(decoded && decoded->files);
  EXPECT_FALSE(decoded->files->usable);

  FilesReading reading = FilesReading::Replay({good, deep, wide, onto, drop, *decoded});
  EXPECT_EQ(reading.files_order().size(), 6u);  // they keep their place in the order
  ASSERT_EQ(reading.files().size(), 1u);
  EXPECT_TRUE(reading.IsFile("a/ok.txt"));
  EXPECT_TRUE(reading.explicit_dirs().empty());
  ASSERT_EQ(reading.Directories().size(), 1u);
  EXPECT_EQ(reading.Directories()[0].path, "a");
  EXPECT_TRUE(reading.conflicts().empty());
}

TEST(FilesLimits, DirectoriesOfDeepTreesAreListedOnce) {
  // Many deep files below one deep directory: every directory once, the
  // right ones explicit.
  std::vector<DecodedEvent> events;
  std::string base = Repeat("level", 200);
  events.push_back(Op(1, 1000, FileOp::kMkdir, base + "/made"));
  for (uint32_t i = 0; i < 2000; ++i) {
    events.push_back(Op(10 + i, 1001 + i, FileOp::kCreateFile,
                        base + "/f" + std::to_string(i % 50) + "/x" + std::to_string(i), "",
                        events.back().hash));
  }
  FilesReading reading = FilesReading::Replay(events);
  auto dirs = reading.Directories();
  // 200 levels, 50 "f" directories and "made".
  EXPECT_EQ(dirs.size(), 200u + 50u + 1u);
  size_t explicit_count = 0;
  for (const auto& dir : dirs) explicit_count += dir.explicit_dir ? 1 : 0;
  EXPECT_EQ(explicit_count, 1u);
  EXPECT_TRUE(std::is_sorted(dirs.begin(), dirs.end(),
                             [](const DirEntry& a, const DirEntry& b) { return a.path < b.path; }));
}

TEST(FilesLimits, ManyConcurrentWritesAtOnePathStayLinear) {
  // Writers that never saw each other (no parent): each one is a head of
  // "hot.txt". Each write used to be compared with every head so far.
  constexpr uint32_t kWriters = 100000;
  std::vector<DecodedEvent> events;
  events.reserve(kWriters);
  for (uint32_t i = 0; i < kWriters; ++i) {
    events.push_back(Op(i + 1, 1000 + i, FileOp::kCreateFile, "hot.txt"));
  }
  auto start = std::chrono::steady_clock::now();
  FilesReading reading = FilesReading::Replay(events);
  double seconds = SecondsSince(start);
  ASSERT_EQ(reading.conflicts().size(), 1u);
  EXPECT_EQ(reading.conflicts()[0].other_events.size(), kWriters - 1);
  EXPECT_EQ(reading.conflicts()[0].live_event, events.back().hash);  // latest timestamp
  EXPECT_LT(seconds, 10.0);
}

TEST(FilesLimits, LocalAppendsOverManyOldFilesStayLinear) {
  // A put that rewrites every file of a large hub: each new event's heads
  // are replayed events, and telling whether one is an ancestor used to
  // walk up every event appended before it.
  constexpr uint32_t kFiles = 100000;
  std::vector<DecodedEvent> events;
  events.reserve(kFiles);
  for (uint32_t i = 0; i < kFiles; ++i) {
    events.push_back(Op(i + 1, 1000 + i, FileOp::kCreateFile, "f" + std::to_string(i), "",
                        i ? std::optional<Hash256>(events.back().hash) : std::nullopt));
  }
  FilesReading reading = FilesReading::Replay(events);
  auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < kFiles; ++i) {
    reading.AppendLocal(Op(kFiles + 1 + i, 500000 + i, FileOp::kCreateFile, "f" + std::to_string(i),
                           "", *reading.observed_head()));
  }
  double seconds = SecondsSince(start);
  EXPECT_TRUE(reading.conflicts().empty());
  EXPECT_EQ(reading.files().size(), kFiles);
  EXPECT_LT(seconds, 10.0);
}

TEST(FilesLimits, LongRenameChainsStayLinear) {
  // A file renamed n times: each name's history used to copy the whole
  // history before it (n²/2 entries: gigabytes for n = 30000).
  constexpr uint32_t kRenames = 30000;
  std::vector<DecodedEvent> events;
  events.push_back(Op(1, 1000, FileOp::kCreateFile, "n0"));
  for (uint32_t i = 1; i <= kRenames; ++i) {
    events.push_back(Op(1 + i, 1000 + i, FileOp::kRename, "n" + std::to_string(i - 1),
                        "n" + std::to_string(i), events.back().hash));
  }
  auto start = std::chrono::steady_clock::now();
  FilesReading reading = FilesReading::Replay(events);
  std::string state = reading.SaveState();
  double seconds = SecondsSince(start);
  ASSERT_EQ(reading.files().size(), 1u);
  EXPECT_TRUE(reading.IsFile("n" + std::to_string(kRenames)));
  // The last name's history is the creation and every rename, in order.
  auto history = reading.History("n" + std::to_string(kRenames));
  ASSERT_EQ(history.size(), kRenames + 1);
  EXPECT_EQ(history.front().op, FileOp::kCreateFile);
  EXPECT_EQ(history.back().event, events.back().hash);
  // A name in the middle: its creation and the renames up to the one that moved it away.
  EXPECT_EQ(reading.History("n100").size(), 102u);
  EXPECT_LT(state.size(), size_t{16} << 20);
  EXPECT_LT(seconds, 10.0);
}

TEST(FilesLimits, HistoryFollowsSubtreeMovesBothWays) {
  auto a = Op(1, 1000, FileOp::kCreateFile, "x/f.txt");
  auto b = Op(2, 1001, FileOp::kRename, "x", "y", a.hash);
  auto c = Op(3, 1002, FileOp::kCreateFile, "y/f.txt", "", b.hash);
  auto d = Op(4, 1003, FileOp::kRename, "y", "x", c.hash);
  auto e = Op(5, 1004, FileOp::kCreateFile, "y/f.txt", "", d.hash);  // a new file at the old name
  FilesReading reading = FilesReading::Replay({a, b, c, d, e});
  std::vector<Hash256> got;
  for (const auto& v : reading.History("x/f.txt")) got.push_back(v.event);
  EXPECT_EQ(got, (std::vector<Hash256>{a.hash, b.hash, c.hash, d.hash}));
  got.clear();
  for (const auto& v : reading.History("y/f.txt")) got.push_back(v.event);
  EXPECT_EQ(got, (std::vector<Hash256>{a.hash, b.hash, c.hash, d.hash, e.hash}));
}

}  // namespace
}  // namespace nb::apps::files
