// Ingest: single-block (reference-compatible) writing, streamed single-block
// reading, sources that change while they are read, the streaming crypto
// underneath, and the hub settings record that picks the layout.
//
// Changing a file "while it is read" is made deterministic with the
// Ingestor's read hook: it runs on the reading thread right after a read, so
// the test changes the file at an exact offset of an exact attempt, with no
// timing involved (a slow writer or a FIFO would race with the reader).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "apps/files/file_content.h"
#include "apps/files/reference_sharing.h"
#include "apps/hub_settings.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
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

void WriteFile(const fs::path& path, ByteSpan bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void AppendFile(const fs::path& path, ByteSpan bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

TEST(StreamingCrypto, HmacStreamEqualsOneShot) {
  Bytes key = Random(32, 1), data = Random(3'000'001, 2);
  crypto::HmacSha256Stream stream(key);
  stream.Update(ByteSpan(data).first(17));
  stream.Update(ByteSpan(data).subspan(17, 1'000'000));
  stream.Update(ByteSpan(data).subspan(1'000'017));
  Bytes one_shot = crypto::HmacSha256(key, data);
  crypto::Hash256 streamed = stream.Finish();
  EXPECT_TRUE(std::equal(one_shot.begin(), one_shot.end(), streamed.bytes.begin()));
}

TEST(StreamingCrypto, GcmStreamEqualsOneShotAndRejectsAnAlteredTag) {
  crypto::SymmetricKey key;
  crypto::RandomFill(key);
  crypto::GcmIv iv;
  crypto::RandomFill(iv);
  Bytes plain = Random(2'500'003, 3);
  Bytes sealed = crypto::AesGcmEncryptWithIv(key, iv, plain);
  crypto::AesGcmStreamEncryptor enc(key, iv);
  Bytes out(plain.size());
  enc.Update(ByteSpan(plain).first(1000), std::span(out).first(1000));
  enc.Update(ByteSpan(plain).subspan(1000), std::span(out).subspan(1000));
  auto tag = enc.Finish();
  EXPECT_TRUE(std::equal(out.begin(), out.end(), sealed.begin() + crypto::kGcmIvSize));
  EXPECT_TRUE(std::equal(tag.begin(), tag.end(), sealed.end() - crypto::kGcmTagSize));

  crypto::AesGcmStreamDecryptor dec(key, iv);
  Bytes back(plain.size());
  dec.Update(out, back);
  EXPECT_TRUE(dec.Finish(tag));
  EXPECT_EQ(back, plain);
  tag[0] ^= 1;
  crypto::AesGcmStreamDecryptor again(key, iv);
  again.Update(out, back);
  EXPECT_FALSE(again.Finish(tag));
}

class IngestTest : public ::testing::Test {
 public:
  void SetUp() override {
    store_ = std::move(*store::Store::Open({dir_ / "store"}, true));
    crypto::RandomFill(hub_key_);
  }
  Result<std::vector<StoredContent>> Ingest(const std::vector<fs::path>& files,
                                            ContentLayout layout,
                                            Ingestor::ReadHook hook = nullptr) {
    std::vector<Ingestor::Source> sources;
    for (const auto& f : files) sources.push_back(Ingestor::Source{f.string()});
    Ingestor ingestor(*store_, hub_key_, 2, layout);
    if (hook) ingestor.SetReadHook(std::move(hook));
    return ingestor.IngestAll(sources, nullptr);
  }
  Bytes ReadBack(const StoredContent& content, Status* status = nullptr) {
    Bytes out;
    Bytes wrapped = WrapFileKey(hub_key_, DedupFileKey(hub_key_));
    Status s = ReadContent(*store_, hub_key_, content.ref, wrapped, [&](ByteSpan data) {
      out.insert(out.end(), data.begin(), data.end());
      return Status::Ok();
    });
    if (status) *status = s;
    EXPECT_TRUE(status || s.ok()) << s.error().message;
    return out;
  }
  size_t BlockFiles() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(store_->primary().blocks_dir())) {
      n += e.path().filename().string().rfind(".tmp-", 0) != 0;
    }
    return n;
  }
  size_t TempFiles() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(store_->primary().blocks_dir())) {
      n += e.path().filename().string().rfind(".tmp-", 0) == 0;
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  crypto::SymmetricKey hub_key_{};
};

TEST_F(IngestTest, SingleBlockLayoutWritesOneBlockPerFileAndReadsItBackStreamed) {
  Bytes big = Random(9'000'000, 4), small = Random(100, 5);
  WriteFile(dir_ / "big", big);
  WriteFile(dir_ / "small", small);
  WriteFile(dir_ / "empty", {});
  auto stored = Ingest({dir_ / "big", dir_ / "small", dir_ / "empty"}, ContentLayout::kSingleBlock);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  for (const auto& c : *stored) EXPECT_EQ(c.ref.kind, ContentRef::Kind::kSingle);
  EXPECT_EQ(BlockFiles(), 3u);
  EXPECT_EQ(TempFiles(), 0u);
  EXPECT_EQ((*stored)[0].size, big.size());
  EXPECT_EQ(*store_->BlockSize((*stored)[0].ref.hash), big.size() + crypto::kGcmOverhead);
  // Above the whole-block limit the read is streamed; the bytes are the same.
  EXPECT_EQ(ReadBack((*stored)[0]), big);
  EXPECT_EQ(ReadBack((*stored)[1]), small);
  EXPECT_TRUE(ReadBack((*stored)[2]).empty());
  // The IV is derived from the plaintext: the same file is the same block,
  // and a small file is the very block the chunked layout makes for it.
  auto again = Ingest({dir_ / "big"}, ContentLayout::kSingleBlock);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0].ref.hash, (*stored)[0].ref.hash);
  EXPECT_EQ((*again)[0].new_blocks, 0u);
  auto chunked = Ingest({dir_ / "small"}, ContentLayout::kChunked);
  ASSERT_TRUE(chunked.ok());
  EXPECT_EQ((*chunked)[0].ref.hash, (*stored)[1].ref.hash);
  // Default layout: the big file is chunked (a manifest).
  auto default_big = Ingest({dir_ / "big"}, ContentLayout::kChunked);
  ASSERT_TRUE(default_big.ok());
  EXPECT_EQ((*default_big)[0].ref.kind, ContentRef::Kind::kManifest);
}

TEST_F(IngestTest, StreamedReadOfADamagedLargeBlockPassesNothingOn) {
  Bytes big = Random(9'000'000, 6);
  WriteFile(dir_ / "big", big);
  auto stored = Ingest({dir_ / "big"}, ContentLayout::kSingleBlock);
  ASSERT_TRUE(stored.ok());
  fs::path block = store_->primary().block_path((*stored)[0].ref.hash);
  {
    std::fstream f(block, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5'000'000);
    f.put('\x55');
  }
  Status status;
  Bytes out = ReadBack((*stored)[0], &status);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kCorrupt);
  EXPECT_TRUE(out.empty()) << "streamed " << out.size() << " bytes of a corrupt block";
  EXPECT_FALSE(fs::exists(block)) << "the corrupt copy should be quarantined";
}

// One source, changed at the first read of the first attempt in the ways a
// file changes under a reader; each layout must record the new content.
struct Change {
  const char* name;
  std::function<void(const fs::path&)> apply;
  Bytes expected;
};

std::vector<Change> Changes(const Bytes& original) {
  Bytes grown = original;
  Bytes tail = Random(3'000'000, 8);
  grown.insert(grown.end(), tail.begin(), tail.end());
  Bytes shrunk(original.begin(), original.begin() + 2'000'000);
  Bytes rewritten = Random(original.size(), 9);  // same size, other bytes
  return {
      {"grows", [tail](const fs::path& p) { AppendFile(p, tail); }, grown},
      {"shrinks", [](const fs::path& p) { fs::resize_file(p, 2'000'000); }, shrunk},
      {"is rewritten in place",
       [rewritten](const fs::path& p) {
         // In place, same size: only the bytes (and timestamps) change.
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.write(reinterpret_cast<const char*>(rewritten.data()),
                 static_cast<std::streamsize>(rewritten.size()));
       },
       rewritten},
  };
}

// `at_calls`: which read (counted from 0 over the first attempt) the change
// follows; in the single-block layout the first pass reads 1 MiB at a time,
// so call 11 falls in the second (encrypting) pass.
void ExpectChangesAreRetried(IngestTest* test, ContentLayout layout, const fs::path& dir,
                             std::vector<int> at_calls) {
  Bytes original = Random(10'000'000, 7);
  for (int at_call : at_calls) {
    for (const auto& change : Changes(original)) {
      SCOPED_TRACE(std::string(change.name) + " after read " + std::to_string(at_call));
      fs::path file = dir / "source";
      WriteFile(file, original);
      int calls_on_first_attempt = 0;
      auto stored = test->Ingest({file}, layout, [&](size_t, int attempt, uint64_t) {
        if (attempt == 0 && calls_on_first_attempt++ == at_call) change.apply(file);
      });
      ASSERT_TRUE(stored.ok()) << stored.error().message;
      ASSERT_GT(calls_on_first_attempt, at_call);
      ASSERT_FALSE((*stored)[0].changed_while_reading);
      EXPECT_EQ((*stored)[0].size, change.expected.size());
      Bytes back = test->ReadBack((*stored)[0]);
      EXPECT_TRUE(back == change.expected)
          << "recorded " << back.size() << " bytes matching neither the old nor the new file";
      // And stored exactly as the new file is stored (IVs derived from the
      // bytes that were encrypted, so dedup still holds).
      auto fresh = test->Ingest({file}, layout);
      ASSERT_TRUE(fresh.ok());
      EXPECT_EQ((*fresh)[0].ref.hash, (*stored)[0].ref.hash);
    }
  }
}

TEST_F(IngestTest, ChunkedIngestRereadsASourceThatChangesWhileRead) {
  ExpectChangesAreRetried(this, ContentLayout::kChunked, dir_.path(), {0, 1});
}

TEST_F(IngestTest, SingleBlockIngestRereadsASourceThatChangesWhileRead) {
  ExpectChangesAreRetried(this, ContentLayout::kSingleBlock, dir_.path(), {0, 11});
  EXPECT_EQ(TempFiles(), 0u);
}

// Small files travel to the workers packed together, big chunks alone, in
// any mix; a source that changes in the middle of a pack is read again
// without mixing up its neighbours' chunks.
TEST_F(IngestTest, SmallAndBigSourcesMixedComeBackExactly) {
  std::vector<fs::path> files;
  std::vector<Bytes> contents;
  for (int i = 0; i < 300; ++i) {
    // Mostly tiny, every 50th large enough to be chunked, one empty.
    size_t size = i == 7 ? 0 : (i % 50 == 49 ? 3'000'000 : 100 + static_cast<size_t>(i) * 37);
    contents.push_back(Random(size, 100 + static_cast<uint64_t>(i)));
    files.push_back(dir_ / ("f" + std::to_string(i)));
    WriteFile(files.back(), contents.back());
  }
  bool changed = false;
  auto stored = Ingest(files, ContentLayout::kChunked, [&](size_t source, int attempt, uint64_t) {
    if (source == 150 && attempt == 0 && !changed) {
      changed = true;
      contents[150] = Random(5000, 999);
      WriteFile(files[150], contents[150]);
    }
  });
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_TRUE(changed);
  for (size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE("file " + std::to_string(i));
    ASSERT_FALSE((*stored)[i].changed_while_reading);
    EXPECT_EQ((*stored)[i].size, contents[i].size());
    EXPECT_TRUE(ReadBack((*stored)[i]) == contents[i]);
  }
  EXPECT_EQ(TempFiles(), 0u);
}

TEST_F(IngestTest, ASourceThatNeverHoldsStillIsReportedNotRecorded) {
  for (auto layout : {ContentLayout::kChunked, ContentLayout::kSingleBlock}) {
    fs::path file = dir_ / "log.txt", other = dir_ / "other.txt";
    WriteFile(file, Random(6'000'000, 10));
    WriteFile(other, Random(1000, 11));
    int last_attempt = -1;
    auto stored = Ingest({file, other}, layout, [&](size_t source, int attempt, uint64_t) {
      if (source == 0 && attempt != last_attempt) {
        last_attempt = attempt;
        AppendFile(file, Random(10, static_cast<uint64_t>(attempt)));
      }
    });
    ASSERT_TRUE(stored.ok()) << stored.error().message;
    EXPECT_TRUE((*stored)[0].changed_while_reading);
    EXPECT_EQ(last_attempt, Ingestor::kReadAttempts - 1);
    EXPECT_FALSE((*stored)[1].changed_while_reading);
    EXPECT_EQ(ReadBack((*stored)[1]), Random(1000, 11));
  }
  EXPECT_EQ(TempFiles(), 0u);
}

// ---- hub settings records ----

files::DecodedEvent SettingsEvent(const std::string& hub_id, bool on, int64_t ts, uint8_t tag) {
  std::string payload = BuildHubSettingsPayload(hub_id, HubSettings{on, std::nullopt, 0}, ts);
  crypto::Hash256 hash;
  hash.bytes[0] = tag;
  auto event = files::DecodeEvent(hash, {}, payload);
  EXPECT_TRUE(event.has_value()) << payload;
  return *event;
}

TEST(HubSettingsRecord, TheLatestRecordOfThisHubWinsInAnyOrder) {
  std::string hub(130, 'a'), other(130, 'b');
  EXPECT_FALSE(ReadHubSettings(hub, {}).reference_compatible);
  auto on = SettingsEvent(hub, true, 1000, 1);
  auto off_later = SettingsEvent(hub, false, 2000, 2);
  auto foreign = SettingsEvent(other, true, 3000, 3);
  HubSettings forward = ReadHubSettings(hub, {on, off_later, foreign});
  HubSettings backward = ReadHubSettings(hub, {foreign, off_later, on});
  EXPECT_FALSE(forward.reference_compatible);
  EXPECT_EQ(forward.record_event, off_later.hash);
  EXPECT_EQ(backward.record_event, off_later.hash);
  EXPECT_TRUE(ReadHubSettings(hub, {on, foreign}).reference_compatible);
  // Same timestamp: the larger event hash wins, whatever the order.
  auto tie = SettingsEvent(hub, true, 2000, 9);
  EXPECT_TRUE(ReadHubSettings(hub, {tie, off_later}).reference_compatible);
  EXPECT_TRUE(ReadHubSettings(hub, {off_later, tie}).reference_compatible);
  // A malformed record is ignored.
  std::string bad =
      R"({"type":"APP_RECORD","protocol":"nb.hub.settings.v1","record":"{\"k\":\")" + hub +
      R"(\",\"p\":\"nb.hub.settings.v1\",\"referenceCompatible\":\"yes\",\"ts\":5000}","authorPublicKey":")" +
      hub + R"(","publishedAt":5000})";
  auto malformed = files::DecodeEvent(crypto::Hash256{}, {}, bad);
  ASSERT_TRUE(malformed.has_value());
  EXPECT_TRUE(ReadHubSettings(hub, {on, *malformed}).reference_compatible);
}

}  // namespace
}  // namespace nb::apps::files
