// The FILES reading: replay of the reference corpus against its expected
// tree, and order-independence of replay.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "apps/files/files_reading.h"
#include "apps/hub_timeline.h"
#include "testing/test_support.h"

namespace nb::apps::files {
namespace {

using nb::testing::InteropDir;
using nb::testing::LoadJson;
using nb::testing::TempDir;

struct CorpusReplay {
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<hub::Hub> hub;
  HubTimeline timeline;
};

CorpusReplay& Corpus() {
  static CorpusReplay* corpus = [] {
    auto* c = new CorpusReplay();
    nb::testing::CopyTree(InteropDir() / "hub-public", c->dir.path());
    c->store = std::move(*store::Store::Open({c->dir.path()}, false));
    auto keys = hub::HubKeys::FromSecret("interop-public:correct horse");
    c->hub = std::move(*hub::Hub::Open(c->store.get(), std::move(*keys), false));
    c->timeline = std::move(*LoadTimeline(*c->hub));
    return c;
  }();
  return *corpus;
}

TEST(FilesReadingCorpus, AllEventsDecode) {
  auto& corpus = Corpus();
  EXPECT_EQ(corpus.timeline.events.size(), 29u);
  EXPECT_EQ(corpus.timeline.undecodable, 0u);
  EXPECT_TRUE(corpus.timeline.refused.empty());
}

TEST(FilesReadingCorpus, ReplayOrderAndHeadMatchExpected) {
  auto expected = LoadJson(InteropDir() / "hub-public.expected.json");
  FilesReading reading = FilesReading::Replay(Corpus().timeline.events);
  std::vector<std::string> order;
  for (const auto& h : reading.files_order()) order.push_back(h.Hex());
  EXPECT_EQ(order, expected["filesReplayOrder"].get<std::vector<std::string>>());
  ASSERT_TRUE(reading.observed_head().has_value());
  EXPECT_EQ(reading.observed_head()->Hex(), expected["observedHead"].get<std::string>());
}

TEST(FilesReadingCorpus, LiveFilesMatchExpected) {
  auto expected = LoadJson(InteropDir() / "hub-public.expected.json");
  FilesReading reading = FilesReading::Replay(Corpus().timeline.events);
  ASSERT_EQ(reading.files().size(), expected["files"].size());
  for (const auto& [path, want] : expected["files"].items()) {
    auto it = reading.files().find(path);
    ASSERT_NE(it, reading.files().end()) << path;
    EXPECT_EQ(it->second.content.hash.Hex(), want["blockHash"].get<std::string>()) << path;
    EXPECT_EQ(it->second.content.kind, ContentRef::Kind::kSingle);
    EXPECT_EQ(it->second.origin_event.Hex(), want["originEvent"].get<std::string>()) << path;
    if (want.contains("mimeType")) {
      EXPECT_EQ(it->second.mime_type.value_or(""), want["mimeType"].get<std::string>());
    } else {
      EXPECT_FALSE(it->second.mime_type.has_value()) << path;
    }
  }
}

TEST(FilesReadingCorpus, DirectoriesMatchExpected) {
  auto expected = LoadJson(InteropDir() / "hub-public.expected.json");
  FilesReading reading = FilesReading::Replay(Corpus().timeline.events);
  std::vector<std::pair<std::string, bool>> got, want;
  for (const auto& dir : reading.Directories()) got.emplace_back(dir.path, dir.explicit_dir);
  for (const auto& dir : expected["directories"]) {
    want.emplace_back(dir["path"].get<std::string>(), dir["explicit"].get<bool>());
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  std::vector<std::string> explicit_dirs(reading.explicit_dirs().begin(),
                                         reading.explicit_dirs().end());
  EXPECT_EQ(explicit_dirs, expected["explicitDirectories"].get<std::vector<std::string>>());
}

TEST(FilesReadingCorpus, ConcurrentSamePathIsAConflict) {
  auto expected = LoadJson(InteropDir() / "hub-public.expected.json");
  FilesReading reading = FilesReading::Replay(Corpus().timeline.events);
  const auto& pairs = expected["concurrentSamePath"];
  ASSERT_EQ(reading.conflicts().size(), pairs.size());
  const auto& conflict = reading.conflicts()[0];
  EXPECT_EQ(conflict.path, pairs[0]["paths"][0].get<std::string>());
  EXPECT_EQ(conflict.live_event.Hex(), pairs[0]["later"]["eventHash"].get<std::string>());
  ASSERT_EQ(conflict.other_events.size(), 1u);
  EXPECT_EQ(conflict.other_events[0].Hex(), pairs[0]["first"]["eventHash"].get<std::string>());
  // The losing version stays in the path's history.
  auto history = reading.History(conflict.path);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].event, conflict.other_events[0]);
  EXPECT_EQ(history[1].event, conflict.live_event);
}

TEST(FilesReadingCorpus, RenamedFilesKeepTheirHistory) {
  FilesReading reading = FilesReading::Replay(Corpus().timeline.events);
  // docs/notes.md was created, then renamed to docs/notes-2026.md.
  auto history = reading.History("docs/notes-2026.md");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].op, FileOp::kCreateFile);
  EXPECT_EQ(history[0].path, "docs/notes.md");
  EXPECT_EQ(history[1].op, FileOp::kRename);
  // archive/old.txt moved with its directory to archive-2025/old.txt.
  auto moved = reading.History("archive-2025/old.txt");
  ASSERT_EQ(moved.size(), 2u);
  EXPECT_EQ(moved[0].path, "archive/old.txt");
  EXPECT_EQ(moved[1].op, FileOp::kRename);
}

TEST(FilesReadingCorpus, AnyArrivalOrderGivesTheSameTree) {
  FilesReading reference = FilesReading::Replay(Corpus().timeline.events);
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; ++round) {
    auto events = Corpus().timeline.events;
    std::shuffle(events.begin(), events.end(), rng);
    // Duplicates (the same event from two roots) change nothing either.
    events.push_back(events[rng() % events.size()]);
    FilesReading reading = FilesReading::Replay(std::move(events));
    EXPECT_EQ(reading.files_order(), reference.files_order());
    ASSERT_EQ(reading.files().size(), reference.files().size());
    for (const auto& [path, entry] : reference.files()) {
      ASSERT_TRUE(reading.files().count(path)) << path;
      EXPECT_EQ(reading.files().at(path).origin_event, entry.origin_event);
    }
    EXPECT_EQ(reading.explicit_dirs(), reference.explicit_dirs());
    EXPECT_EQ(reading.conflicts().size(), reference.conflicts().size());
  }
}

// Synthetic events: hashes are arbitrary, so no crypto is needed here.
Hash256 FakeHash(uint32_t n) {
  Hash256 h;
  std::mt19937 rng(n * 2654435761u + 1);
  for (auto& b : h.bytes) b = static_cast<uint8_t>(rng());
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
  if (op == FileOp::kCreateFile) {
    f.content = ContentRef{ContentRef::Kind::kSingle, FakeHash(100000 + id)};
    e.block_refs.push_back(f.content->hash);
  }
  e.files = std::move(f);
  return e;
}

TEST(FilesReadingRules, ParentPrecedesChildDespiteClockSkew) {
  auto a = Op(1, 2000, FileOp::kCreateFile, "x.txt");
  auto b = Op(2, 1000, FileOp::kCreateFile, "x.txt", "", a.hash);  // child with older clock
  FilesReading reading = FilesReading::Replay({b, a});
  ASSERT_EQ(reading.files_order().size(), 2u);
  EXPECT_EQ(reading.files_order()[0], a.hash);
  EXPECT_EQ(reading.files().at("x.txt").origin_event, b.hash);
  EXPECT_TRUE(reading.conflicts().empty());  // b saw a
}

TEST(FilesReadingRules, LaterWinsAcrossKindsAndDirectoriesCascade) {
  auto mk = Op(1, 1000, FileOp::kMkdir, "d");
  auto f1 = Op(2, 1001, FileOp::kCreateFile, "d/a/b.txt", "", mk.hash);
  auto f2 = Op(3, 1002, FileOp::kCreateFile, "d/c.txt", "", f1.hash);
  // A file at "d/a" replaces the directory d/a and its subtree.
  auto over = Op(4, 1003, FileOp::kCreateFile, "d/a", "", f2.hash);
  FilesReading r1 = FilesReading::Replay({mk, f1, f2, over});
  EXPECT_TRUE(r1.IsFile("d/a"));
  EXPECT_FALSE(r1.IsFile("d/a/b.txt"));
  EXPECT_TRUE(r1.IsFile("d/c.txt"));
  // A directory made at "d/c.txt" replaces the file.
  auto dir_over = Op(5, 1004, FileOp::kMkdir, "d/c.txt", "", over.hash);
  // DELETE of "d" removes everything below it.
  auto del = Op(6, 1005, FileOp::kDelete, "d", "", dir_over.hash);
  FilesReading r2 = FilesReading::Replay({mk, f1, f2, over, dir_over});
  EXPECT_FALSE(r2.IsFile("d/c.txt"));
  EXPECT_TRUE(r2.IsDirectory("d/c.txt"));
  FilesReading r3 = FilesReading::Replay({mk, f1, f2, over, dir_over, del});
  EXPECT_TRUE(r3.files().empty());
  EXPECT_TRUE(r3.explicit_dirs().empty());
  EXPECT_TRUE(r3.Directories().empty());
}

TEST(FilesReadingRules, RenameEdgeCases) {
  auto a = Op(1, 1000, FileOp::kCreateFile, "a/x.txt");
  auto missing = Op(2, 1001, FileOp::kRename, "nope", "else", a.hash);
  auto into_self = Op(3, 1002, FileOp::kRename, "a", "a/b", missing.hash);
  FilesReading r1 = FilesReading::Replay({a, missing, into_self});
  EXPECT_TRUE(r1.IsFile("a/x.txt"));
  EXPECT_FALSE(r1.IsDirectory("else"));
  // Renaming a directory moves its files; an existing target is replaced.
  auto t = Op(4, 1003, FileOp::kCreateFile, "t", "", into_self.hash);
  auto mv = Op(5, 1004, FileOp::kRename, "a", "t", t.hash);
  FilesReading r2 = FilesReading::Replay({a, missing, into_self, t, mv});
  EXPECT_TRUE(r2.IsFile("t/x.txt"));
  EXPECT_FALSE(r2.IsFile("t"));
  EXPECT_FALSE(r2.IsDirectory("a"));
  EXPECT_EQ(r2.files().at("t/x.txt").origin_event, a.hash);
}

TEST(FilesReadingRules, MalformedPathsChangeNothing) {
  for (const char* bad : {"", "/a", "a/", "a//b", "./a", "a/..", "a/./b"}) {
    EXPECT_FALSE(IsValidHubPath(bad)) << bad;
  }
  EXPECT_TRUE(IsValidHubPath("a/b c/ü.txt"));
  auto payload = R"({"type":"CREATE_FILE","path":"../etc/passwd","content":{"protocol":)"
                 R"("nb.content.single.v1","blockHash":")" +
                 std::string(64, 'a') + R"("},"wrappedKey":"","createdAt":5})";
  auto decoded = DecodeEvent(FakeHash(9), {}, payload);
  ASSERT_TRUE(decoded.has_value());
  ASSERT_TRUE(decoded->files.has_value());
  EXPECT_FALSE(decoded->files->usable);
  FilesReading r = FilesReading::Replay({*decoded});
  EXPECT_TRUE(r.files().empty());
  EXPECT_EQ(r.files_order().size(), 1u);  // it keeps its place in the order
}

TEST(FilesReadingRules, ConflictResolvedByLaterEventThatSawBoth) {
  auto base = Op(1, 1000, FileOp::kCreateFile, "p.txt");
  auto left = Op(2, 1001, FileOp::kCreateFile, "p.txt", "", base.hash);
  auto right = Op(3, 1002, FileOp::kCreateFile, "p.txt", "", base.hash);
  FilesReading r1 = FilesReading::Replay({base, left, right});
  ASSERT_EQ(r1.conflicts().size(), 1u);
  EXPECT_EQ(r1.conflicts()[0].live_event, right.hash);
  // A later write whose parent is the head (right) but which does not name
  // left has not seen it: the conflict stays, with the new write live.
  auto blind = Op(4, 1003, FileOp::kCreateFile, "p.txt", "", right.hash);
  FilesReading r2 = FilesReading::Replay({base, left, right, blind});
  ASSERT_EQ(r2.conflicts().size(), 1u);
  EXPECT_EQ(r2.conflicts()[0].live_event, blind.hash);
  EXPECT_EQ(r2.ConflictingEvents("p.txt"), std::vector<Hash256>{left.hash});
  // A write that names the losing head in its blockRefs resolves it.
  auto fix = Op(5, 1003, FileOp::kCreateFile, "p.txt", "", right.hash);
  fix.block_refs.push_back(left.hash);
  FilesReading r3 = FilesReading::Replay({base, left, right, fix});
  EXPECT_TRUE(r3.conflicts().empty());
  EXPECT_EQ(r3.files().at("p.txt").origin_event, fix.hash);
}

}  // namespace
}  // namespace nb::apps::files
