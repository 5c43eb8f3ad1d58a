// Parts of our content format that other copies of a hub depend on and that
// only a pinned answer can guard: where chunks end (the same file must cut
// the same way on every machine and in every version, or dedup breaks),
// and the IV of a deduplicated block (every dedup block of a hub shares one
// file key, so AES-GCM stays safe only if distinct plaintexts never share
// an IV).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <fstream>
#include <random>
#include <set>

#include "apps/files/chunker.h"
#include "apps/files/file_content.h"
#include "testing/test_support.h"

namespace nb::apps::files {
namespace {

using nb::testing::TempDir;

// 12 MiB from std::mt19937_64 (its output sequence is fixed by the C++
// standard), each 64-bit output as 8 little-endian bytes.
Bytes SeededInput() {
  std::mt19937_64 rng(20261125);
  Bytes data(12u << 20);
  for (size_t i = 0; i < data.size(); i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8; ++j) data[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  return data;
}

std::vector<size_t> ChunkLengths(ByteSpan data) {
  std::vector<size_t> out;
  while (!data.empty()) {
    size_t n = FindChunkEnd(data, /*at_end=*/true);
    out.push_back(n);
    data = data.subspan(n);
  }
  return out;
}

// Pinned once, on 2026-11-25, by running FindChunkEnd (default sizes: min
// 256 KiB, average 1 MiB, max 4 MiB) over SeededInput() and printing the
// lengths; checked to be plausible for FastCDC (every length between min
// and max except the last, mean near 1 MiB). These are part of our format:
// if this test fails, the chunker changed and every hub's dedup with it.
const std::vector<size_t> kPinnedChunkLengths = {
    2151623, 1290602, 1028624, 1102748, 641678, 1273416, 1065982, 1366772, 1050209, 1340661, 270597,
};

TEST(ContentFormat, ChunkBoundariesOfASeededInputArePinned) {
  Bytes data = SeededInput();
  auto lengths = ChunkLengths(data);
  EXPECT_EQ(lengths, kPinnedChunkLengths);
  size_t total = 0;
  for (size_t n : lengths) total += n;
  EXPECT_EQ(total, data.size());
}

TEST(ContentFormat, ChunkBoundariesDependOnlyOnTheBytesNearThem) {
  // Fed in pieces (as a reader does) the cuts are the same.
  Bytes data = SeededInput();
  std::vector<size_t> streamed;
  size_t start = 0;
  while (start < data.size()) {
    size_t window = std::min<size_t>(data.size() - start, (5u << 20) + 12345);
    bool at_end = start + window == data.size();
    size_t n = FindChunkEnd(ByteSpan(data).subspan(start, window), at_end);
    ASSERT_GT(n, 0u);
    streamed.push_back(n);
    start += n;
  }
  EXPECT_EQ(streamed, kPinnedChunkLengths);
}

class DedupIv : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(*store::Store::Open({dir_ / "store"}, true)); }

  StoredContent Ingest(const std::string& content) {
    auto path = dir_ / ("in-" + std::to_string(counter_++));
    std::ofstream(path, std::ios::binary) << content;
    Ingestor ingestor(*store_, hub_key_);
    auto stored = ingestor.IngestAll({Ingestor::Source{path.string()}}, nullptr);
    EXPECT_TRUE(stored.ok());
    return (*stored)[0];
  }
  Bytes IvOf(const StoredContent& content) {
    auto block = store_->GetBlock(content.ref.hash);
    EXPECT_TRUE(block.ok());
    return Bytes(block->begin(), block->begin() + 12);
  }

  // The derivation written in file_content.h, computed with OpenSSL
  // directly: FEK = HKDF-SHA256(hub key, salt "", info "nb-dedup-fek-v1"),
  // IV = HMAC-SHA256(FEK, plaintext)[0..12).
  Bytes ExpectedIv(const std::string& plaintext) {
    uint8_t fek[32];
    size_t fek_len = sizeof(fek);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
    EXPECT_EQ(EVP_PKEY_derive_init(ctx), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set1_hkdf_key(ctx, hub_key_.data(), hub_key_.size()), 1);
    EXPECT_EQ(
        EVP_PKEY_CTX_add1_hkdf_info(ctx, reinterpret_cast<const uint8_t*>("nb-dedup-fek-v1"), 15),
        1);
    EXPECT_EQ(EVP_PKEY_derive(ctx, fek, &fek_len), 1);
    EVP_PKEY_CTX_free(ctx);
    uint8_t mac[32];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), fek, 32, reinterpret_cast<const uint8_t*>(plaintext.data()),
         plaintext.size(), mac, &mac_len);
    return Bytes(mac, mac + 12);
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  crypto::SymmetricKey hub_key_ = [] {
    crypto::SymmetricKey key;
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i + 1);  // 01..20
    return key;
  }();
  int counter_ = 0;
};

TEST_F(DedupIv, KnownAnswerForAFixedKeyAndPlaintext) {
  // Computed with the openssl command line, independently of our code:
  //   FEK=$(openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:0102..1f20
  //         -kdfopt salt: -kdfopt info:nb-dedup-fek-v1 HKDF)
  //     = b82719e68234d2c973015427f8c5cac5b7b9551cb8042002798397346b7f7e40
  //   printf 'hello nearbytes\n' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$FEK
  //     -> first 12 bytes:
  EXPECT_EQ(HexEncode(IvOf(Ingest("hello nearbytes\n"))), "2899976213d4963e542a15ff");
  EXPECT_EQ(HexEncode(ExpectedIv("hello nearbytes\n")), "2899976213d4963e542a15ff");
}

TEST_F(DedupIv, DistinctPlaintextsGetDistinctIvsAndEqualOnesTheSameBlock) {
  std::set<std::string> ivs;
  for (int i = 0; i < 64; ++i) {
    std::string content = "file number " + std::to_string(i) + "\n";
    Bytes iv = IvOf(Ingest(content));
    EXPECT_EQ(iv, ExpectedIv(content)) << content;
    ivs.insert(HexEncode(iv));
  }
  EXPECT_EQ(ivs.size(), 64u);
  // One byte apart at the end, the same length: still distinct.
  EXPECT_NE(IvOf(Ingest("abcdefgh0")), IvOf(Ingest("abcdefgh1")));
  // The same plaintext twice: the same IV, hence the same block (dedup).
  EXPECT_EQ(Ingest("again").ref.hash, Ingest("again").ref.hash);
}

TEST_F(DedupIv, ChunksOfOneLargeFileGetTheirOwnIvs) {
  // Every chunk of a chunked file and its manifest: distinct IVs, each the
  // HMAC of its own plaintext.
  Bytes data = SeededInput();
  std::string content(data.begin(), data.begin() + (6u << 20));
  StoredContent stored = Ingest(content);
  ASSERT_EQ(stored.ref.kind, ContentRef::Kind::kManifest);
  auto fek = DedupFileKey(hub_key_);
  auto manifest_block = store_->GetBlock(stored.ref.hash);
  ASSERT_TRUE(manifest_block.ok());
  auto manifest_plain = crypto::AesGcmDecrypt(fek, *manifest_block);
  ASSERT_TRUE(manifest_plain.ok());
  std::string manifest_json(manifest_plain->begin(), manifest_plain->end());
  EXPECT_EQ(Bytes(manifest_block->begin(), manifest_block->begin() + 12),
            ExpectedIv(manifest_json));
  uint64_t total = 0;
  auto chunks = ParseManifest(manifest_json, &total);
  ASSERT_TRUE(chunks.ok());
  // The chunk sizes are the pinned cuts of this prefix.
  std::vector<size_t> sizes;
  for (const auto& chunk : *chunks) sizes.push_back(chunk.size);
  EXPECT_EQ(sizes, ChunkLengths(AsBytes(content)));
  std::set<std::string> ivs;
  size_t offset = 0;
  for (const auto& chunk : *chunks) {
    auto block = store_->GetBlock(chunk.hash);
    ASSERT_TRUE(block.ok());
    Bytes iv(block->begin(), block->begin() + 12);
    EXPECT_EQ(iv, ExpectedIv(content.substr(offset, chunk.size)));
    ivs.insert(HexEncode(iv));
    offset += chunk.size;
  }
  EXPECT_EQ(ivs.size(), chunks->size());
}

}  // namespace
}  // namespace nb::apps::files
