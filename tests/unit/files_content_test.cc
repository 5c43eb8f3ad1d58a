// File contents: content-defined chunking, dedup encryption, streamed and
// verified reading, and the reference's single-block files.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "apps/files/file_content.h"
#include "apps/hub_timeline.h"
#include "crypto/random.h"
#include "testing/test_support.h"

namespace nb::apps::files {
namespace {

using nb::testing::TempDir;
namespace fs = std::filesystem;

Bytes Random(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::vector<size_t> Cut(ByteSpan data) {
  std::vector<size_t> sizes;
  while (!data.empty()) {
    size_t window = std::min<size_t>(data.size(), ChunkSizes{}.max);
    size_t n = FindChunkEnd(data.first(window), window == data.size());
    sizes.push_back(n);
    data = data.subspan(n);
  }
  return sizes;
}

TEST(Chunker, BoundariesAreDeterministicAndWithinLimits) {
  Bytes data = Random(24 << 20, 1);
  auto sizes = Cut(data);
  EXPECT_EQ(sizes, Cut(data));
  ASSERT_GT(sizes.size(), 8u);
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    EXPECT_GE(sizes[i], ChunkSizes{}.min);
    EXPECT_LE(sizes[i], ChunkSizes{}.max);
  }
  size_t total = 0;
  for (size_t s : sizes) total += s;
  EXPECT_EQ(total, data.size());
  // Average near 1 MiB (normalized chunking keeps it close).
  double average = static_cast<double>(total) / static_cast<double>(sizes.size());
  EXPECT_GT(average, 600.0 * 1024);
  EXPECT_LT(average, 2000.0 * 1024);
}

TEST(Chunker, AnInsertionOnlyMovesNearbyBoundaries) {
  Bytes data = Random(16 << 20, 2);
  Bytes edited = data;
  edited.insert(edited.begin() + 1000, {1, 2, 3, 4, 5});
  auto before = Cut(data);
  auto after = Cut(edited);
  // The tails agree chunk for chunk once the boundaries resynchronize.
  size_t same = 0;
  for (size_t i = 1; i <= std::min(before.size(), after.size()); ++i) {
    if (before[before.size() - i] != after[after.size() - i]) break;
    ++same;
  }
  EXPECT_GE(same + 2, before.size());
}

class ContentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::Store::Open({dir_.path()}, true));
    crypto::RandomFill(hub_key_);
  }
  Result<std::vector<StoredContent>> Ingest(const std::vector<Bytes>& files) {
    std::vector<Ingestor::Source> sources;
    for (size_t i = 0; i < files.size(); ++i) {
      auto path = dir_ / ("in-" + std::to_string(i));
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(files[i].data()),
                 static_cast<std::streamsize>(files[i].size()));
      sources.push_back(Ingestor::Source{path.string()});
    }
    Ingestor ingestor(*store_, hub_key_);
    return ingestor.IngestAll(sources, nullptr);
  }
  Result<Bytes> Read(const StoredContent& content) {
    Bytes out;
    Bytes wrapped = WrapFileKey(hub_key_, DedupFileKey(hub_key_));
    Status status = ReadContent(*store_, hub_key_, content.ref, wrapped, [&](ByteSpan data) {
      out.insert(out.end(), data.begin(), data.end());
      return Status::Ok();
    });
    if (!status.ok()) return status.error();
    return out;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  crypto::SymmetricKey hub_key_{};
};

TEST_F(ContentTest, RoundTripsEverySize) {
  std::vector<Bytes> files;
  for (size_t size :
       {size_t{0}, size_t{1}, size_t{(1 << 20) - 1}, size_t{(5 << 20) + 3}, size_t{20 << 20}}) {
    files.push_back(Random(size, size));
  }
  auto stored = Ingest(files);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ((*stored)[i].size, files[i].size());
    bool chunked = files[i].size() > (4u << 20);
    EXPECT_EQ((*stored)[i].ref.kind,
              chunked ? ContentRef::Kind::kManifest : ContentRef::Kind::kSingle);
    auto back = Read((*stored)[i]);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, files[i]);
    Bytes wrapped = WrapFileKey(hub_key_, DedupFileKey(hub_key_));
    EXPECT_EQ(*ContentSize(*store_, hub_key_, (*stored)[i].ref, wrapped), files[i].size());
  }
}

TEST_F(ContentTest, SameContentIsStoredOnce) {
  Bytes big = Random(12 << 20, 3);
  auto first = Ingest({big});
  ASSERT_TRUE(first.ok());
  EXPECT_GT((*first)[0].new_blocks, 3u);
  auto again = Ingest({big, big});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].new_blocks + (*again)[1].new_blocks, 0u);
  EXPECT_EQ((*again)[0].ref, (*first)[0].ref);
  // A file sharing a prefix with it shares the prefix's chunks.
  Bytes extended = big;
  Bytes tail = Random(3 << 20, 4);
  extended.insert(extended.end(), tail.begin(), tail.end());
  auto shared = Ingest({extended});
  ASSERT_TRUE(shared.ok());
  // Every chunk of `big` but its last is shared; only the chunks from there
  // on and the new manifest are new.
  size_t shared_chunks = Cut(big).size() - 1;
  EXPECT_EQ((*shared)[0].new_blocks, Cut(extended).size() - shared_chunks + 1);
}

TEST_F(ContentTest, CorruptChunkStopsTheStream) {
  Bytes big = Random(10 << 20, 5);
  auto stored = Ingest({big});
  ASSERT_TRUE(stored.ok());
  // Corrupt the last chunk (the largest files are chunks, not the manifest).
  std::vector<fs::path> blocks;
  for (const auto& e : fs::directory_iterator(dir_ / "blocks")) blocks.push_back(e.path());
  for (const auto& path : blocks) {
    if (fs::file_size(path) > 100000) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(500);
      f.put('\x77');
    }
  }
  size_t delivered = 0;
  Bytes wrapped = WrapFileKey(hub_key_, DedupFileKey(hub_key_));
  Status status = ReadContent(*store_, hub_key_, (*stored)[0].ref, wrapped, [&](ByteSpan data) {
    delivered += data.size();
    return Status::Ok();
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(delivered, 0u);  // the first chunk was already bad
}

TEST(Manifest, StrictValidation) {
  std::string h(64, 'a');
  EXPECT_TRUE(ParseManifest(R"({"p":"nb.manifest.v1","k":"file-chunks","s":3,"ch":[{"h":")" + h +
                                R"(","z":3}]})",
                            nullptr)
                  .ok());
  for (const std::string& bad : {
           std::string(R"({"p":"nb.manifest.v1","k":"file-chunks","s":4,"ch":[{"h":")") + h +
               R"(","z":3}]})",                                                       // sizes
           std::string(R"({"p":"nb.manifest.v1","k":"file-chunks","s":0,"ch":[]})"),  // empty
           std::string(R"({"p":"nb.manifest.v2","k":"file-chunks","s":3,"ch":[{"h":")") + h +
               R"(","z":3}]})",  // kind
           std::string(
               R"({"p":"nb.manifest.v1","k":"file-chunks","s":3,"ch":[{"h":"xyz","z":3}]})"),
           std::string(R"({"p":"nb.manifest.v1","k":"file-chunks","s":-3,"ch":[{"h":")") + h +
               R"(","z":-3}]})",
           std::string("not json"),
       }) {
    EXPECT_FALSE(ParseManifest(bad, nullptr).ok()) << bad;
  }
}

TEST(ReferenceContent, SingleBlockFileFromTheCorpusDecrypts) {
  TempDir dir;
  nb::testing::CopyTree(nb::testing::InteropDir() / "hub-public", dir.path());
  auto expected = nb::testing::LoadJson(nb::testing::InteropDir() / "hub-public.expected.json");
  auto store = std::move(*store::Store::Open({dir.path()}, false));
  auto keys = hub::HubKeys::FromSecret("interop-public:correct horse");
  auto hub = std::move(*hub::Hub::Open(store.get(), *keys, false));
  auto timeline = LoadTimeline(*hub);
  ASSERT_TRUE(timeline.ok());
  auto reading = FilesReading::Replay(timeline->events);
  const auto& entry = reading.files().at("photos/large.bin");
  crypto::Sha256Stream sha;
  uint64_t size = 0;
  Status status = ReadContent(*store, hub->keys().symmetric_key(), entry.content, entry.wrapped_key,
                              [&](ByteSpan data) {
                                sha.Update(data);
                                size += data.size();
                                return Status::Ok();
                              });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(size, expected["files"]["photos/large.bin"]["size"].get<uint64_t>());
  EXPECT_EQ(sha.Finish().Hex(), expected["files"]["photos/large.bin"]["sha256"].get<std::string>());
}

}  // namespace
}  // namespace nb::apps::files
