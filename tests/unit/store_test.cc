// The storage layer: content addressing, verification and quarantine,
// atomic and batched publication, temp reaping, and the union of roots.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "store/batch_publisher.h"
#include "store/store.h"
#include "testing/test_support.h"

namespace nb::store {
namespace {

using nb::testing::ReadText;
using nb::testing::TempDir;
using nb::testing::WriteText;

void FlipByte(const fs::path& path, size_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = static_cast<char>(f.get());
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x01));
}

// Files of a root, without its local state (.nearbytes/: writer lock).
size_t CountFiles(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; it != end; ++it) {
    if (it->path().filename() == ".nearbytes") it.disable_recursion_pending();
    if (it->is_regular_file()) ++n;
  }
  return n;
}

TEST(StorageRoot, PutGetHasRoundTrip) {
  TempDir dir;
  auto root = StorageRoot::Open(dir.path(), true);
  ASSERT_TRUE(root.ok());
  Bytes data = ToBytes("some encrypted bytes");
  auto hash = root->PutBlock(data);
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(*hash, crypto::Sha256(data));
  EXPECT_TRUE(root->HasBlock(*hash));
  EXPECT_EQ(*root->GetBlock(*hash), data);
  EXPECT_TRUE(fs::exists(dir / "blocks" / (hash->Hex() + ".bin")));
  auto missing = root->GetBlock(crypto::Sha256(AsBytes("nope")));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  // A second put of the same bytes is a no-op.
  EXPECT_EQ(*root->PutBlock(data), *hash);
  EXPECT_EQ(CountFiles(dir / "blocks"), 1u);
}

TEST(StorageRoot, CorruptBlocksAreQuarantinedNeverServed) {
  TempDir dir;
  auto root = StorageRoot::Open(dir.path(), true);
  auto a = *root->PutBlock(ToBytes("block a, long enough to flip"));
  auto b = *root->PutBlock(ToBytes("block b, also long enough"));
  FlipByte(root->block_path(a), 3);
  auto got = root->GetBlock(a);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kCorrupt);
  EXPECT_NE(got.error().message.find(a.Hex()), std::string::npos);
  EXPECT_FALSE(fs::exists(root->block_path(a)));
  EXPECT_EQ(CountFiles(dir / ".nearbytes" / "quarantine"), 2u);  // the file + reasons.log
  // Truncation is caught by the streaming check too.
  fs::resize_file(root->block_path(b), 4);
  Status verified = root->VerifyBlock(b);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().code, ErrorCode::kCorrupt);
  EXPECT_FALSE(root->HasBlock(b));
}

TEST(StorageRoot, ListingsIgnoreForeignNames) {
  TempDir dir;
  auto root = StorageRoot::Open(dir.path(), true);
  auto hash = *root->PutBlock(ToBytes("x"));
  std::string hex = hash.Hex();
  std::string upper = hex;
  for (auto& c : upper) c = static_cast<char>(std::toupper(c));
  for (const auto& name : {upper + ".bin", hex.substr(1) + ".bin", hex + ".bin.tmp", hex,
                           std::string(".tmp-1-abc-") + hex + ".bin", std::string("README")}) {
    WriteText(dir / "blocks" / name, "junk");
  }
  std::vector<crypto::Hash256> seen;
  ASSERT_TRUE(root->ForEachBlock([&](const crypto::Hash256& h) { seen.push_back(h); }).ok());
  EXPECT_EQ(seen, std::vector<crypto::Hash256>{hash});

  std::string channel = "04" + std::string(128, 'a');
  ASSERT_TRUE(root->WriteEventFile(channel, hash, ToBytes("{}")).ok());
  WriteText(dir / "channels" / channel / "not-an-event.bin", "junk");
  WriteText(dir / "channels" / "not-a-hub" / (hex + ".bin"), "junk");
  EXPECT_EQ(*root->ListEvents(channel), std::vector<crypto::Hash256>{hash});
  EXPECT_EQ(*root->ListChannels(), std::vector<std::string>{channel});
  EXPECT_FALSE(root->WriteEventFile("../../etc", hash, ToBytes("{}")).ok());
}

TEST(FileIo, AtomicPublishCreatesOnceAndLeavesNoTemp) {
  TempDir dir;
  auto first = AtomicPublish(dir.path(), "name.bin", AsBytes("first"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = AtomicPublish(dir.path(), "name.bin", AsBytes("second"));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  EXPECT_EQ(ReadText(dir / "name.bin"), "first");
  EXPECT_EQ(CountFiles(dir.path()), 1u);
}

TEST(FileIo, ReapStaleTempsKeepsFreshOnes) {
  TempDir dir;
  WriteText(dir / ".tmp-1-aa-old.bin", "x");
  WriteText(dir / "ref-style.bin.tmp", "x");
  WriteText(dir / ".tmp-2-bb-fresh.bin", "x");
  WriteText(dir / "keep.bin", "x");
  timespec old_times[2] = {{::time(nullptr) - 7200, 0}, {::time(nullptr) - 7200, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / ".tmp-1-aa-old.bin").c_str(), old_times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "ref-style.bin.tmp").c_str(), old_times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "keep.bin").c_str(), old_times, 0), 0);
  EXPECT_EQ(ReapStaleTemps(dir.path(), 3600), 2u);
  EXPECT_TRUE(fs::exists(dir / ".tmp-2-bb-fresh.bin"));
  EXPECT_TRUE(fs::exists(dir / "keep.bin"));
  EXPECT_FALSE(fs::exists(dir / ".tmp-1-aa-old.bin"));
}

TEST(BatchPublisher, NothingVisibleBeforeCommitEverythingAfter) {
  TempDir dir;
  auto root = StorageRoot::Open(dir.path(), true);
  std::string channel = "04" + std::string(128, 'b');
  Bytes block = ToBytes("block bytes");
  auto hash = crypto::Sha256(block);
  auto event_hash = crypto::Sha256(AsBytes("event"));
  {
    BatchPublisher batch(&*root);
    EXPECT_TRUE(*batch.StageBlock(hash, block));
    ASSERT_TRUE(batch.StageEvent(channel, event_hash, AsBytes("{}")).ok());
    EXPECT_EQ(batch.staged_files(), 2u);
    EXPECT_FALSE(root->HasBlock(hash));
    EXPECT_FALSE(root->HasEvent(channel, event_hash));
    auto committed = batch.Commit();
    ASSERT_TRUE(committed.ok());
    EXPECT_EQ(*committed, 2u);
  }
  EXPECT_EQ(*root->GetBlock(hash), block);
  EXPECT_TRUE(root->HasEvent(channel, event_hash));
  EXPECT_EQ(CountFiles(dir.path()), 2u);  // no temps left
  // Staging what already exists is skipped; an abandoned batch leaves nothing.
  {
    BatchPublisher batch(&*root);
    EXPECT_FALSE(*batch.StageBlock(hash, block));
    EXPECT_TRUE(*batch.StageBlock(crypto::Sha256(AsBytes("other")), AsBytes("other")));
  }
  EXPECT_EQ(CountFiles(dir.path()), 2u);
}

TEST(Store, UnionReadsEverywhereWritesToPrimaryAndSkipsCorruptCopies) {
  TempDir a, b;
  auto secondary = StorageRoot::Open(b.path(), true);
  Bytes only_b = ToBytes("only in the second root");
  Bytes both = ToBytes("in both roots, corrupt in the first");
  auto hb = *secondary->PutBlock(only_b);
  auto hboth = *secondary->PutBlock(both);
  auto store = Store::Open({a.path(), b.path()}, true);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->primary().PutBlock(both).ok());
  FlipByte((*store)->primary().block_path(hboth), 2);

  EXPECT_EQ(*(*store)->GetBlock(hb), only_b);
  EXPECT_EQ(*(*store)->GetBlock(hboth), both);  // the good copy is served
  auto incidents = (*store)->TakeIncidents();
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_NE(incidents[0].find("corrupt"), std::string::npos);

  auto written = *(*store)->PutBlock(ToBytes("new"));
  EXPECT_TRUE((*store)->primary().HasBlock(written));
  EXPECT_FALSE(secondary->HasBlock(written));

  std::string channel = "04" + std::string(128, 'c');
  auto e1 = crypto::Sha256(AsBytes("e1"));
  auto e2 = crypto::Sha256(AsBytes("e2"));
  ASSERT_TRUE((*store)->primary().WriteEventFile(channel, e1, AsBytes("{}")).ok());
  ASSERT_TRUE(secondary->WriteEventFile(channel, e1, AsBytes("{}")).ok());
  ASSERT_TRUE(secondary->WriteEventFile(channel, e2, AsBytes("{}")).ok());
  auto events = (*store)->ListEvents(channel);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
  EXPECT_FALSE(Store::Open({a.path(), b / "missing"}, true).ok());
}

}  // namespace
}  // namespace nb::store
