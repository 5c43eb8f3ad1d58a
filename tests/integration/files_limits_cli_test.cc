// Hostile FILES events written by a hub member (anyone with the secret):
// the reading's limits on paths (docs/format-notes.md, "Limits of the FILES
// reading") keep every command fast and bounded, and the CLI refuses to
// write what the reading would reject.
#include <gtest/gtest.h>

#include <chrono>

#include "hub/hub.h"
#include "store/store.h"
#include "testing/test_support.h"

namespace nb {
namespace {

using Json = nlohmann::json;
using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;
namespace fs = std::filesystem;

constexpr const char* kSecret = "limits-test:a shared passphrase";

class FilesLimitsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = {{"NEARBYTES_HOME", (home_ / "home").string()}, {"NEARBYTES_SECRET", kSecret}};
    ASSERT_EQ(Run({"hub", "create"}).exit_code, 0);
  }
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") {
    return RunCli(args, env_, input);
  }
  // Appends a raw FILES payload through the library, as a hostile member's
  // own program would (no CLI check in the way).
  void AppendRaw(const Json& payload) {
    auto store = store::Store::Open({home_ / "home" / "store"}, false);
    ASSERT_TRUE(store.ok());
    auto keys = hub::HubKeys::FromSecret(kSecret);
    ASSERT_TRUE(keys.ok());
    auto hub = hub::Hub::Open(store->get(), std::move(*keys), false);
    ASSERT_TRUE(hub.ok());
    auto appended = (*hub)->AppendPayload(payload.dump(), {});
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  }

  TempDir home_;
  std::map<std::string, std::string> env_;
};

std::string Repeat(std::string_view part, size_t times) {
  std::string out;
  for (size_t i = 0; i < times; ++i) {
    if (i) out += '/';
    out += part;
  }
  return out;
}

size_t EventFileCount(const fs::path& store) {
  size_t n = 0;
  for (const auto& channel : fs::directory_iterator(store / "channels")) {
    for (const auto& file : fs::directory_iterator(channel.path())) n += file.is_regular_file();
  }
  return n;
}

TEST_F(FilesLimitsCli, AHostileDeepPathLeavesTheHubUsable) {
  // 20000 levels (40 kB): `ls` used to list 20000 implied directories of up
  // to 40 kB each (400 MB of output, 20 s; at 200000 levels it ran out of
  // memory). Beyond the reading's limits the event changes nothing.
  ASSERT_EQ(Run({"put", "-", "--to", "notes/ok.txt"}, "fine\n").exit_code, 0);
  AppendRaw(Json{{"type", "MKDIR"}, {"path", Repeat("a", 20000)}, {"createdAt", 1700000000000}});
  AppendRaw(
      Json{{"type", "CREATE_FILE"},
           {"path", "notes/" + std::string(5000, 'n')},
           {"content", {{"protocol", "nb.content.single.v1"}, {"blockHash", std::string(64, '0')}}},
           {"wrappedKey", ""},
           {"createdAt", 1700000000001}});
  RunResult ls = Run({"--json", "ls", "-r"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  Json listing = Json::parse(ls.out);
  std::vector<std::string> paths;
  for (const auto& entry : listing) paths.push_back(entry["path"].get<std::string>());
  EXPECT_EQ(paths, (std::vector<std::string>{"notes", "notes/ok.txt"}));
  RunResult got = Run({"get", "notes/ok.txt", "-"});
  EXPECT_EQ(got.out, "fine\n");
}

TEST_F(FilesLimitsCli, TheCliRefusesPathsTheReadingWouldNotUse) {
  fs::path store = home_ / "home" / "store";
  size_t events_before = EventFileCount(store);
  auto blocks_in = [&] {
    return std::distance(fs::directory_iterator(store / "blocks"), fs::directory_iterator());
  };
  auto blocks_before = blocks_in();
  RunResult deep = Run({"put", "-", "--to", Repeat("d", 257) + "/x.txt"}, "data");
  EXPECT_NE(deep.exit_code, 0);
  EXPECT_NE(deep.err.find("deeper than 256 levels"), std::string::npos) << deep.err;
  EXPECT_EQ(std::count(deep.err.begin(), deep.err.end(), '\n'), 1) << deep.err;
  EXPECT_EQ(blocks_in(), blocks_before);  // refused before anything is stored

  RunResult wide = Run({"mkdir", "docs/" + std::string(1025, 'w')});
  EXPECT_NE(wide.exit_code, 0);
  EXPECT_NE(wide.err.find("longer than 1024 bytes"), std::string::npos) << wide.err;
  EXPECT_LT(wide.err.size(), 400u) << "the message quotes a shortened path";

  ASSERT_EQ(Run({"put", "-", "--to", "short.txt"}, "x").exit_code, 0);
  RunResult moved = Run({"mv", "short.txt", Repeat("m", 300)});
  EXPECT_NE(moved.exit_code, 0);
  EXPECT_NE(moved.err.find("deeper than 256 levels"), std::string::npos) << moved.err;
  // Only the one good put wrote an event; no block of a refused put either.
  EXPECT_EQ(EventFileCount(store), events_before + 1);
}

}  // namespace
}  // namespace nb
