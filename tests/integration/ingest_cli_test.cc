// put and the hub's file layout from the command line: reference-compatible
// hubs (create, set, info), the one-time notice for hubs that look shared
// with the reference software, and messages that name the user's file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "testing/test_support.h"

namespace nb {
namespace {

using Json = nlohmann::json;
using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;
using nb::testing::WriteText;
namespace fs = std::filesystem;

class IngestCli : public ::testing::Test {
 protected:
  IngestCli() {
    env_["NEARBYTES_HOME"] = (dir_ / "home").string();
    env_["NEARBYTES_SECRET"] = "ingest-cli:a fine secret";
  }
  RunResult Run(const std::vector<std::string>& args) { return RunCli(args, env_); }
  Json RunJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }
  fs::path MakeFile(const std::string& name, size_t size) {
    fs::path path = dir_ / name;
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 2654435761u) >> 13);
    WriteText(path, bytes);
    return path;
  }
  fs::path Blocks() { return dir_ / "home" / "store" / "blocks"; }
  size_t LargestBlock() {
    size_t largest = 0;
    for (const auto& e : fs::directory_iterator(Blocks())) {
      largest = std::max<size_t>(largest, fs::file_size(e.path()));
    }
    return largest;
  }

  TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(IngestCli, AReferenceCompatibleHubWritesEachFileAsOneBlock) {
  Json created = RunJson({"hub", "create", "--reference-compatible"});
  EXPECT_EQ(created["referenceCompatible"], true);
  EXPECT_EQ(RunJson({"hub", "info"})["referenceCompatible"], true);
  RunResult info = Run({"hub", "info"});
  EXPECT_NE(info.out.find("reference-compatible"), std::string::npos) << info.out;
  fs::path big = MakeFile("big.bin", 9'000'000);
  Json put = RunJson({"put", big.string()});
  EXPECT_EQ(put["newBlocks"], 1);
  EXPECT_EQ(LargestBlock(), 9'000'000u + 28);
  Json ls = RunJson({"ls"});
  EXPECT_EQ(ls[0]["chunked"], false);
  RunResult got = Run({"get", "big.bin", "-"});
  EXPECT_EQ(got.out, nb::testing::ReadText(big));
}

TEST_F(IngestCli, HubSetSwitchesTheLayoutForEveryLaterPut) {
  ASSERT_EQ(Run({"hub", "create"}).exit_code, 0);
  EXPECT_EQ(RunJson({"hub", "info"})["referenceCompatible"], false);
  RunResult info = Run({"hub", "info"});
  EXPECT_NE(info.out.find("hub set reference-compatible on"), std::string::npos) << info.out;
  fs::path big = MakeFile("big.bin", 9'000'000);
  EXPECT_GE(RunJson({"put", big.string(), "--to", "chunked.bin"})["newBlocks"].get<int>(), 3);

  Json set = RunJson({"hub", "set", "reference-compatible", "on"});
  EXPECT_EQ(set["referenceCompatible"], true);
  EXPECT_EQ(set["changed"], true);
  EXPECT_EQ(RunJson({"hub", "set", "reference-compatible", "on"})["changed"], false);
  EXPECT_EQ(RunJson({"hub", "info"})["referenceCompatible"], true);
  RunJson({"put", big.string(), "--to", "single.bin"});
  EXPECT_EQ(LargestBlock(), 9'000'000u + 28);
  Json ls = RunJson({"ls"});
  std::map<std::string, bool> chunked;
  for (const auto& e : ls) chunked[e["path"]] = e["chunked"];
  EXPECT_EQ(chunked, (std::map<std::string, bool>{{"chunked.bin", true}, {"single.bin", false}}));

  EXPECT_EQ(RunJson({"hub", "set", "reference-compatible", "off"})["referenceCompatible"], false);
  RunResult bad = Run({"hub", "set", "reference-compatible", "maybe"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("on or off"), std::string::npos) << bad.err;
  RunResult unknown = Run({"hub", "set", "colour", "on"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("reference-compatible"), std::string::npos) << unknown.err;
  RunResult help = Run({"hub", "set", "--help"});
  EXPECT_NE(help.out.find("nearbytes hub set reference-compatible on"), std::string::npos);
}

TEST_F(IngestCli, AHubThatLooksSharedWithTheReferenceSaysSoOnce) {
  const std::string notice = "looks shared with the reference";
  ASSERT_EQ(Run({"hub", "create"}).exit_code, 0);
  fs::path big = MakeFile("big.bin", 6'000'000);
  ASSERT_EQ(Run({"put", big.string(), "--to", "ours.bin"}).exit_code, 0);
  // Only chunks of our own: nothing to say.
  EXPECT_EQ(Run({"ls"}).err.find(notice), std::string::npos);
  // A large single block (as the reference writes) in a hub not in that mode.
  ASSERT_EQ(Run({"hub", "set", "reference-compatible", "on"}).exit_code, 0);
  ASSERT_EQ(Run({"put", big.string(), "--to", "theirs.bin"}).exit_code, 0);
  EXPECT_EQ(Run({"ls"}).err.find(notice), std::string::npos) << "compatible mode: no notice";
  ASSERT_EQ(Run({"hub", "set", "reference-compatible", "off"}).exit_code, 0);
  RunResult first = Run({"ls"});
  EXPECT_EQ(first.exit_code, 0);
  EXPECT_NE(first.err.find(notice), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("hub set reference-compatible on"), std::string::npos) << first.err;
  EXPECT_EQ(std::count(first.err.begin(), first.err.end(), '\n'), 1) << first.err;
  RunResult second = Run({"ls"});
  EXPECT_EQ(second.err.find(notice), std::string::npos) << "said twice: " << second.err;
}

// The store cannot write (a file size limit, as a full disk would): the
// message names the user's file, never the store's temp file.
TEST_F(IngestCli, AStoreWriteErrorNamesTheUsersFile) {
  for (bool compatible : {false, true}) {
    SCOPED_TRACE(compatible ? "reference-compatible" : "default");
    TempDir home;
    env_["NEARBYTES_HOME"] = home.path().string();
    std::vector<std::string> create{"hub", "create"};
    if (compatible) create.push_back("--reference-compatible");
    ASSERT_EQ(Run(create).exit_code, 0);
    fs::path big = MakeFile("my-report.bin", 3'000'000);
    std::string command = "trap '' XFSZ; ulimit -f 1024; NEARBYTES_HOME='" + home.path().string() +
                          "' NEARBYTES_SECRET='" + env_["NEARBYTES_SECRET"] + "' exec '" +
                          NEARBYTES_CLI_PATH + "' put '" + big.string() + "' 2>&1";
    FILE* pipe = ::popen(("bash -c \"" + command + "\"").c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string out;
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    int status = ::pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status)) << out;
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find(big.string()), std::string::npos) << out;
    EXPECT_EQ(out.find(".tmp-"), std::string::npos) << out;
    EXPECT_EQ(out.find("internal error"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

}  // namespace
}  // namespace nb
