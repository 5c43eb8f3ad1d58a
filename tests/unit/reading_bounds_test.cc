// Bounded reads of what a hub member or a damaged disk hands a reading:
// event files, payloads, manifests. Each bound is named in the header that
// owns the input; those that decide what a reading accepts are written in
// docs/format-notes.md.
#include <gtest/gtest.h>

#include "apps/files/file_content.h"
#include "apps/files/files_reading.h"
#include "base/json_depth.h"
#include "log/event.h"
#include "store/storage_root.h"

namespace nb {
namespace {

std::string Nested(size_t depth, std::string_view inner = "1") {
  return std::string(depth, '[') + std::string(inner) + std::string(depth, ']');
}

TEST(JsonNesting, CountsContainersAndSkipsStrings) {
  EXPECT_TRUE(JsonNestingAtMost(Nested(64), 64));
  EXPECT_FALSE(JsonNestingAtMost(Nested(65), 64));
  EXPECT_TRUE(JsonNestingAtMost(R"({"a":{"b":[1,2,{"c":3}]}})", 4));
  EXPECT_FALSE(JsonNestingAtMost(R"({"a":{"b":[1,2,{"c":3}]}})", 3));
  // Brackets inside strings, escaped quotes included, do not count.
  EXPECT_TRUE(JsonNestingAtMost(R"({"s":"[[[[\"[[[[","t":"\\"})", 1));
}

TEST(ReadingBounds, TheDocumentedValues) {
  EXPECT_EQ(apps::files::kMaxPayloadBytes, 1u << 20);
  EXPECT_EQ(apps::files::kMaxPayloadJsonDepth, 64u);
  EXPECT_EQ(log::kMaxEventJsonDepth, 64u);
  EXPECT_EQ(store::kMaxEventFileSize, 16u << 20);
  EXPECT_EQ(apps::files::kMaxChunkBytes, 4u << 20);
  EXPECT_EQ(apps::files::kMaxManifestChunks, 1u << 20);
  EXPECT_EQ(apps::files::kMaxManifestBytes, 96u << 20);
}

TEST(ReadingBounds, PayloadsBeyondTheBoundsAreUndecodable) {
  crypto::Hash256 hash;
  auto decode = [&](const std::string& payload) {
    return apps::files::DecodeEvent(hash, {}, payload);
  };
  std::string base = R"({"type":"MKDIR","path":"a","createdAt":1,"x":)";
  EXPECT_TRUE(decode(base + Nested(63) + "}"));   // 64 levels with the outer object
  EXPECT_FALSE(decode(base + Nested(64) + "}"));  // 65
  EXPECT_FALSE(decode(base + Nested(2000000) + "}"));

  std::string fits = base + "1}";
  fits += std::string(apps::files::kMaxPayloadBytes - fits.size(), ' ');
  ASSERT_EQ(fits.size(), apps::files::kMaxPayloadBytes);
  EXPECT_TRUE(decode(fits));
  EXPECT_FALSE(decode(fits + " "));
}

TEST(ReadingBounds, DeeplyNestedEventFilesAreRefusedBeforeParsing) {
  std::string file = R"({"envelope":{"version":"0.2","x":)" + Nested(100) +
                     R"(,"publicKey":"04","blockRefs":[],"ciphertext":""},"signature":""})";
  auto parsed = log::ParseEventFile(AsBytes(file));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("deeper than 64"), std::string::npos)
      << parsed.error().message;
}

std::string ManifestWith(const std::vector<uint64_t>& sizes, uint64_t total) {
  std::string out =
      R"({"p":"nb.manifest.v1","k":"file-chunks","s":)" + std::to_string(total) + R"(,"ch":[)";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) out += ",";
    out += R"({"h":")" + std::string(64, 'a') + R"(","z":)" + std::to_string(sizes[i]) + "}";
  }
  return out + "]}";
}

TEST(ReadingBounds, ManifestsAreChecked) {
  using apps::files::ParseManifest;
  uint64_t total = 0;
  EXPECT_TRUE(ParseManifest(ManifestWith({4u << 20, 1}, (4u << 20) + 1), &total).ok());
  EXPECT_EQ(total, (4u << 20) + 1);
  // A chunk larger than any our chunker cuts, an empty chunk, sizes that do
  // not add up (either way), no chunks.
  EXPECT_FALSE(ParseManifest(ManifestWith({(4u << 20) + 1}, (4u << 20) + 1), &total).ok());
  EXPECT_FALSE(ParseManifest(ManifestWith({0, 5}, 5), &total).ok());
  EXPECT_FALSE(ParseManifest(ManifestWith({5, 5}, 11), &total).ok());
  EXPECT_FALSE(ParseManifest(ManifestWith({5, 5}, 9), &total).ok());
  EXPECT_FALSE(ParseManifest(ManifestWith({}, 0), &total).ok());
  // Sizes that would overflow a 64-bit sum.
  EXPECT_FALSE(ParseManifest(ManifestWith({UINT64_MAX, 2}, 1), &total).ok());
  // Too deep, too large.
  std::string deep = ManifestWith({5}, 5);
  deep.insert(deep.size() - 1, R"(,"x":)" + Nested(10));
  EXPECT_FALSE(ParseManifest(deep, &total).ok());
  std::string large = ManifestWith({5}, 5);
  large.insert(large.size() - 1, std::string(apps::files::kMaxManifestBytes, ' '));
  auto refused = ParseManifest(large, &total);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("larger than"), std::string::npos);
}

TEST(ReadingBounds, ManifestsWithTooManyChunksAreRefused) {
  std::vector<uint64_t> sizes(apps::files::kMaxManifestChunks + 1, 1);
  uint64_t total = 0;
  auto refused = apps::files::ParseManifest(ManifestWith(sizes, sizes.size()), &total);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("more than"), std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace nb
