// The folder carrier in-process: a failure injected between the blocks and
// the events of a carry (where a crash hurts most) never leaves an event
// whose blocks are missing, and the next run converges; what events
// reference is remembered, and a damaged memory of it is rebuilt.
#include "sync/folder_carrier.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "apps/files/file_content.h"
#include "apps/files/files_reading.h"
#include "hub/hub.h"
#include "log/event.h"
#include "sync/folder_memory.h"
#include "testing/test_support.h"

namespace nb::sync {
namespace {

namespace fs = std::filesystem;
using nb::testing::RunCli;
using nb::testing::TempDir;
using nb::testing::WriteText;

constexpr const char* kSecret = "folder-carrier-test:shared secret";

// A home whose hub holds a chunked file, small files and a chat message.
void MakeHub(const fs::path& home, const fs::path& sources, int round) {
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.string()},
                                         {"NEARBYTES_SECRET", kSecret}};
  if (round == 0) {
    ASSERT_EQ(RunCli({"hub", "create"}, env).exit_code, 0);
  }
  fs::path dir = sources / ("round" + std::to_string(round));
  std::string big(5 * 1024 * 1024, '\0');
  std::mt19937 rng(round + 1);
  for (auto& ch : big) ch = static_cast<char>(rng());
  WriteText(dir / "big.bin", big);
  for (int i = 0; i < 12; ++i) {
    WriteText(dir / "small" / (std::to_string(i) + ".txt"),
              "round " + std::to_string(round) + " file " + std::to_string(i));
  }
  ASSERT_EQ(RunCli({"put", dir.string(), "--to", "r" + std::to_string(round)}, env).exit_code, 0);
  ASSERT_EQ(RunCli({"say", "round " + std::to_string(round)}, env).exit_code, 0);
}

// Checked without the carrier's code: every valid event's blockRefs (other
// than events) are present, and every file's content reads back whole
// (manifest and chunks). Returns one line per problem.
std::vector<std::string> EventsMissingBlocks(store::Store& store, const hub::HubKeys& keys) {
  std::vector<std::string> problems;
  auto channel_key = crypto::PublicKey::FromHex(keys.id());
  auto events = store.ListEvents(keys.id());
  if (!channel_key.ok() || !events.ok()) return {"cannot list"};
  std::set<crypto::Hash256> event_set(events->begin(), events->end());
  for (const auto& hash : *events) {
    auto bytes = store.primary().ReadEventFile(keys.id(), hash);
    if (!bytes.ok()) {
      problems.push_back("unreadable event " + hash.Hex());
      continue;
    }
    auto event = log::ValidateEventFile(*channel_key, hash, *bytes);
    if (!event.ok()) {
      problems.push_back("invalid event " + hash.Hex());
      continue;
    }
    for (const auto& ref : event->envelope.block_refs) {
      if (!event_set.count(ref) && !store.HasBlock(ref)) {
        problems.push_back("event " + hash.Hex() + " names missing block " + ref.Hex());
      }
    }
    auto payload = crypto::AesGcmDecrypt(keys.symmetric_key(), event->envelope.ciphertext);
    if (!payload.ok()) continue;
    auto decoded = apps::files::DecodeEvent(hash, event->envelope.block_refs, AsChars(*payload));
    if (!decoded || !decoded->files || !decoded->files->content) continue;
    Status read = apps::files::ReadContent(store, keys.symmetric_key(), *decoded->files->content,
                                           decoded->files->wrapped_key,
                                           [](ByteSpan) { return Status::Ok(); });
    if (!read.ok()) problems.push_back("event " + hash.Hex() + ": " + read.error().message);
  }
  return problems;
}

std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(".tmp", 0) != 0) out.insert(name);
  }
  return out;
}

class FolderCarrierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeHub(root_ / "a", root_ / "sources", 0);
    auto keys = hub::HubKeys::FromSecret(kSecret);
    ASSERT_TRUE(keys.ok());
    keys_ = std::make_unique<hub::HubKeys>(*keys);
  }
  Result<FolderSyncReport> Sync(const fs::path& home, bool push, bool pull, bool fail,
                                std::function<int64_t()> clock = nullptr) {
    auto store = store::Store::Open({home / "store"}, true);
    if (!store.ok()) return store.error();
    FolderSyncOptions options;
    options.push = push;
    options.pull = pull;
    options.create = true;
    options.hub_ids = {keys_->id()};
    options.hub_keys[keys_->id()] = keys_->symmetric_key();
    if (fail) {
      options.hooks.before_events = [] {
        return Status(MakeError(ErrorCode::kIo, "simulated crash between blocks and events"));
      };
    }
    options.hooks.wall_clock_ns = std::move(clock);
    return SyncFolder(**store, stick(), options);
  }
  std::vector<std::string> Check(const fs::path& root) {
    auto store = store::Store::Open({root}, false);
    if (!store.ok()) return {store.error().message};
    return EventsMissingBlocks(**store, *keys_);
  }
  fs::path stick() const { return root_ / "stick"; }
  fs::path channel(const fs::path& root) const { return root / "channels" / keys_->id(); }

  TempDir root_;
  std::unique_ptr<hub::HubKeys> keys_;
};

TEST_F(FolderCarrierTest, AFailureBeforeTheEventsLeavesNoEventWithoutItsBlocks) {
  fs::path a = root_ / "a" / "store";
  // Push fails after the blocks: the stick holds blocks, no event.
  auto failed = Sync(root_ / "a", true, false, true);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("simulated crash"), std::string::npos);
  EXPECT_EQ(Check(stick()), std::vector<std::string>{});
  EXPECT_TRUE(Names(channel(stick())).empty());
  EXPECT_EQ(Names(stick() / "blocks"), Names(a / "blocks"));
  // The rerun converges.
  ASSERT_TRUE(Sync(root_ / "a", true, false, false).ok());
  EXPECT_EQ(Names(channel(stick())), Names(channel(a)));
  EXPECT_EQ(Check(stick()), std::vector<std::string>{});

  // More history on a, then a push that fails again: the old events keep
  // their blocks, the new ones are not there yet.
  MakeHub(root_ / "a", root_ / "sources", 1);
  auto before = Names(channel(stick()));
  ASSERT_FALSE(Sync(root_ / "a", true, false, true).ok());
  EXPECT_EQ(Names(channel(stick())), before);
  EXPECT_EQ(Check(stick()), std::vector<std::string>{});
  ASSERT_TRUE(Sync(root_ / "a", true, false, false).ok());
  EXPECT_EQ(Names(channel(stick())), Names(channel(a)));

  // The pull side: a fresh home fails the same way, then converges.
  fs::path b = root_ / "b" / "store";
  ASSERT_FALSE(Sync(root_ / "b", false, true, true).ok());
  EXPECT_TRUE(Names(channel(b)).empty());
  EXPECT_EQ(Check(b), std::vector<std::string>{});
  auto pulled = Sync(root_ / "b", false, true, false);
  ASSERT_TRUE(pulled.ok());
  EXPECT_EQ(pulled->pulled.events, Names(channel(a)).size());
  EXPECT_EQ(Names(channel(b)), Names(channel(a)));
  EXPECT_EQ(Names(b / "blocks"), Names(a / "blocks"));
  EXPECT_EQ(Check(b), std::vector<std::string>{});
}

TEST_F(FolderCarrierTest, AnEventsReferencesAreRememberedAndADamagedMemoryIsRebuilt) {
  ASSERT_TRUE(Sync(root_ / "a", true, true, false).ok());
  fs::path refs_file = root_ / "a" / "store" / ".nearbytes" / "sync" / (keys_->id() + ".refs");
  ASSERT_TRUE(fs::exists(refs_file));
  EventRefsCache cache = EventRefsCache::Load(refs_file.parent_path(), keys_->id());
  EXPECT_EQ(cache.size(), Names(channel(root_ / "a" / "store")).size());
  // Flip one byte: the file no longer matches its checksum and is ignored.
  {
    std::fstream f(refs_file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(200);
    char byte = static_cast<char>(f.get());
    f.seekp(200);
    f.put(static_cast<char>(~byte));
  }
  EXPECT_EQ(EventRefsCache::Load(refs_file.parent_path(), keys_->id()).size(), 0u);
  // Lose a block on the stick: the next run, on the damaged memory, still
  // finds which events need it and puts it back.
  auto blocks = Names(stick() / "blocks");
  ASSERT_FALSE(blocks.empty());
  fs::remove(stick() / "blocks" / *blocks.begin());
  auto repaired = Sync(root_ / "a", true, true, false);
  ASSERT_TRUE(repaired.ok());
  EXPECT_EQ(repaired->pushed.blocks, 1u);
  EXPECT_EQ(repaired->pushed.repaired, 1u);
  EXPECT_EQ(Names(stick() / "blocks"), blocks);
  EXPECT_EQ(EventRefsCache::Load(refs_file.parent_path(), keys_->id()).size(), cache.size());
}

// The remembered listing (sync/folder_memory.h). A clock a minute ahead
// stands for "the directories settled long ago", so a run records what it
// found without the test waiting.
int64_t MinuteAhead() { return WallClockNs() + int64_t{60} * 1'000'000'000; }

// Waits (without timing anything) until a file made now gets a later ctime
// than `dir` has: a change made after this is visible in `dir`'s stamp,
// which the racy rule guarantees in production by the age it requires.
void LetTheClockMovePast(const fs::path& dir, const fs::path& scratch) {
  auto stamp = StampDirectory(dir);
  ASSERT_TRUE(stamp.ok());
  for (;;) {
    fs::path probe = scratch / "probe";
    WriteText(probe, "x");
    auto probed = StampDirectory(probe);
    fs::remove(probe);
    ASSERT_TRUE(probed.ok());
    if (probed->ctime_ns > stamp->ctime_ns) return;
  }
}

class RememberedListingTest : public FolderCarrierTest {
 protected:
  // Synced both ways, then a run that finds nothing and records it, then
  // a run that lists nothing.
  void SyncAndRemember() {
    auto first = Sync(root_ / "a", true, true, false, MinuteAhead);
    ASSERT_TRUE(first.ok());
    ASSERT_GT(first->pushed.events, 0u);
    auto second = Sync(root_ / "a", true, true, false, MinuteAhead);
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second->remembered);
    auto third = Sync(root_ / "a", true, true, false, MinuteAhead);
    ASSERT_TRUE(third.ok());
    ASSERT_TRUE(third->remembered);
    EXPECT_EQ(third->hubs_carried, std::vector<std::string>{keys_->id()});
    for (const auto& dir : {stick() / "blocks", channel(stick()), a() / "blocks", channel(a())}) {
      LetTheClockMovePast(dir, root_.path());
    }
  }
  fs::path a() const { return root_ / "a" / "store"; }
};

TEST_F(RememberedListingTest, AnEventDroppedIntoTheFolderIsStillFound) {
  // Another writer's history, dropped into the stick by another program
  // (a cloud client, a plain copy).
  MakeHub(root_ / "other", root_ / "other-sources", 0);
  fs::path other = root_ / "other" / "store";
  SyncAndRemember();
  for (const auto& entry : fs::directory_iterator(other / "blocks")) {
    fs::copy(entry.path(), stick() / "blocks" / entry.path().filename(),
             fs::copy_options::skip_existing);
  }
  std::set<std::string> dropped;
  for (const auto& name : Names(channel(other))) {
    if (!fs::exists(channel(stick()) / name)) dropped.insert(name);
    fs::copy(channel(other) / name, channel(stick()) / name, fs::copy_options::skip_existing);
  }
  ASSERT_FALSE(dropped.empty());
  auto next = Sync(root_ / "a", true, true, false, MinuteAhead);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->remembered);
  EXPECT_EQ(next->pulled.events, dropped.size());
  EXPECT_EQ(Names(channel(a())), Names(channel(stick())));
  EXPECT_EQ(Check(a()), std::vector<std::string>{});
}

TEST_F(RememberedListingTest, AFileRemovedFromEitherSideIsCopiedAgain) {
  SyncAndRemember();
  auto events = Names(channel(stick()));
  auto blocks = Names(stick() / "blocks");
  fs::remove(channel(stick()) / *events.begin());
  fs::remove(stick() / "blocks" / *blocks.begin());
  auto pushed = Sync(root_ / "a", true, true, false, MinuteAhead);
  ASSERT_TRUE(pushed.ok());
  EXPECT_FALSE(pushed->remembered);
  EXPECT_EQ(pushed->pushed.events, 1u);
  EXPECT_EQ(pushed->pushed.blocks, 1u);
  EXPECT_EQ(Names(channel(stick())), events);
  EXPECT_EQ(Names(stick() / "blocks"), blocks);

  // The same on the local side, after the stick is remembered again.
  ASSERT_FALSE(Sync(root_ / "a", true, true, false, MinuteAhead)->remembered);
  ASSERT_TRUE(Sync(root_ / "a", true, true, false, MinuteAhead)->remembered);
  LetTheClockMovePast(channel(a()), root_.path());
  LetTheClockMovePast(a() / "blocks", root_.path());
  fs::remove(channel(a()) / *events.rbegin());
  fs::remove(a() / "blocks" / *blocks.rbegin());
  auto pulled = Sync(root_ / "a", true, true, false, MinuteAhead);
  ASSERT_TRUE(pulled.ok());
  EXPECT_FALSE(pulled->remembered);
  EXPECT_EQ(pulled->pulled.events, 1u);
  EXPECT_EQ(pulled->pulled.blocks, 1u);
  EXPECT_EQ(Names(channel(a())), events);
  EXPECT_EQ(Check(a()), std::vector<std::string>{});
}

TEST_F(RememberedListingTest, JunkDroppedIntoTheFolderIsStillCleanedOut) {
  SyncAndRemember();
  WriteText(channel(stick()) / "notes.txt", "not an event");
  auto next = Sync(root_ / "a", true, true, false, MinuteAhead);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->remembered);
  EXPECT_EQ(next->junk.misnamed, 1u);
  EXPECT_FALSE(fs::exists(channel(stick()) / "notes.txt"));
}

TEST_F(RememberedListingTest, ARecordIsOnlyUsedForTheSameDirectionsAndKeys) {
  SyncAndRemember();
  auto push_only = Sync(root_ / "a", true, false, false, MinuteAhead);
  ASSERT_TRUE(push_only.ok());
  EXPECT_FALSE(push_only->remembered);
}

TEST_F(RememberedListingTest, DirectoriesChangedJustBeforeTheRunAreNotTrusted) {
  ASSERT_TRUE(Sync(root_ / "a", true, true, false).ok());
  // A clock that stands at the moment the stick last changed: every stamp
  // is "too young", so nothing is recorded and every run lists.
  auto stamp = StampDirectory(channel(stick()));
  ASSERT_TRUE(stamp.ok());
  auto still = [t = stamp->ctime_ns] { return t; };
  for (int i = 0; i < 2; ++i) {
    auto run = Sync(root_ / "a", true, true, false, still);
    ASSERT_TRUE(run.ok());
    EXPECT_FALSE(run->remembered);
  }
}

}  // namespace
}  // namespace nb::sync
