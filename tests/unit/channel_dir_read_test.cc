// ChannelDir::ReadEvent reads what StorageRoot::ReadEventFile reads, with the
// same answers for missing, odd and oversized files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/channel_dir.h"
#include "testing/test_support.h"

namespace nb::store {
namespace {

namespace fs = std::filesystem;
using nb::testing::TempDir;

TEST(ChannelDirRead, ReadsLikeTheRootAndRefusesWhatItRefuses) {
  TempDir dir;
  auto root = StorageRoot::Open(dir / "root", true);
  ASSERT_TRUE(root.ok());
  const std::string channel = "04" + std::string(128, 'b');
  fs::create_directories(root->channel_dir(channel));
  crypto::Hash256 file, missing, directory, fifo, big;
  file.bytes[0] = 1;
  missing.bytes[0] = 2;
  directory.bytes[0] = 3;
  fifo.bytes[0] = 4;
  big.bytes[0] = 5;
  nb::testing::WriteText(root->event_path(channel, file), "{\"event\":1}");
  fs::create_directories(root->event_path(channel, directory));
  ASSERT_EQ(::mkfifo(root->event_path(channel, fifo).c_str(), 0600), 0);
  nb::testing::WriteText(root->event_path(channel, big), "x");
  ASSERT_EQ(
      ::truncate(root->event_path(channel, big).c_str(), static_cast<off_t>(kMaxEventFileSize + 1)),
      0);  // sparse: its size alone is refused
  auto opened = ChannelDir::Open(*root, channel);
  ASSERT_TRUE(opened.ok());

  auto bytes = opened->ReadEvent(file);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, *root->ReadEventFile(channel, file));
  for (const auto& [hash, code] :
       {std::pair{missing, ErrorCode::kNotFound}, std::pair{directory, ErrorCode::kCorrupt},
        std::pair{fifo, ErrorCode::kCorrupt}, std::pair{big, ErrorCode::kCorrupt}}) {
    auto read = opened->ReadEvent(hash);
    ASSERT_FALSE(read.ok()) << hash.Hex();
    EXPECT_EQ(read.error().code, code) << hash.Hex();
    EXPECT_EQ(root->ReadEventFile(channel, hash).error().code, code) << hash.Hex();
  }
}

}  // namespace
}  // namespace nb::store
