// The issue-2 faces through the real binary: hub create/info, log, verify,
// secrets, and one-line errors for bad input.
#include <gtest/gtest.h>

#include <fstream>

#include "testing/test_support.h"

namespace nb {
namespace {

using Json = nlohmann::json;
using nb::testing::InteropDir;
using nb::testing::RunCli;
using nb::testing::RunResult;
using nb::testing::TempDir;
namespace fs = std::filesystem;

const std::map<std::string, std::string> kCorpusSecret{
    {"NEARBYTES_SECRET", "interop-public:correct horse"}};

bool OneLineError(const RunResult& r) {
  return r.exit_code != 0 && std::count(r.err.begin(), r.err.end(), '\n') == 1 &&
         r.err.rfind("nearbytes: ", 0) == 0;
}

class CorpusCopy : public ::testing::Test {
 protected:
  void SetUp() override { nb::testing::CopyTree(InteropDir() / "hub-public", dir_.path()); }
  std::vector<std::string> Args(std::vector<std::string> tail) {
    std::vector<std::string> args{"--store", dir_.path().string()};
    args.insert(args.end(), tail.begin(), tail.end());
    return args;
  }
  TempDir dir_;
};

TEST_F(CorpusCopy, VerifyAcceptsTheReferenceHub) {
  RunResult r = RunCli(Args({"verify"}), kCorpusSecret);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("29 valid event(s), 15 valid block(s)"), std::string::npos) << r.out;
  RunResult json = RunCli(Args({"--json", "verify"}));  // no secret needed
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_EQ(Json::parse(json.out)["ok"], true);
}

TEST_F(CorpusCopy, LogListsEveryEventValidWithItsPayloadType) {
  RunResult r = RunCli(Args({"--json", "log"}), kCorpusSecret);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json log = Json::parse(r.out);
  auto expected = nb::testing::LoadJson(InteropDir() / "hub-public.expected.json");
  std::map<std::string, std::string> want;
  for (const auto& e : expected["events"]) want[e["eventHash"]] = e["type"];
  ASSERT_EQ(log["events"].size(), want.size());
  for (const auto& e : log["events"]) {
    EXPECT_EQ(e["valid"], true);
    EXPECT_EQ(e["decrypted"], true);
    EXPECT_EQ(e["type"], want[e["hash"]]) << e["hash"];
  }
  RunResult info = RunCli(Args({"--json", "hub", "info"}), kCorpusSecret);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  Json hub = Json::parse(info.out);
  EXPECT_EQ(hub["events"], 29);
  EXPECT_EQ(hub["name"], "interop-public");
  EXPECT_EQ(hub["id"], expected["hub"]["publicKey"]);
  EXPECT_EQ(hub["blocks"], 15);
}

TEST_F(CorpusCopy, WrongSecretSaysSoInOneLine) {
  RunResult r = RunCli(Args({"log"}), {{"NEARBYTES_SECRET", "interop-public:wrong horse"}});
  EXPECT_TRUE(OneLineError(r)) << r.err;
  EXPECT_NE(r.err.find("no hub for this secret"), std::string::npos) << r.err;
}

TEST_F(CorpusCopy, BitFlippedBlockIsReportedAndQuarantined) {
  std::string victim = "2657c204834da1213de921d25c6b36a2751b253a07b88dad28977ac13d48dfae";
  fs::path path = dir_ / "blocks" / (victim + ".bin");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x00');
    f.seekp(21);
    f.put('\x01');
  }
  RunResult bad = RunCli(Args({"verify"}));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find(victim), std::string::npos) << bad.out;
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::is_empty(dir_ / ".nearbytes" / "quarantine"));
  // The block is still referenced: a store missing it is not ok (issue 10 §3).
  RunResult again = RunCli(Args({"verify"}));
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_NE(again.out.find("DAMAGED  block " + victim), std::string::npos) << again.out;
}

TEST_F(CorpusCopy, ForeignNamesAreIgnoredAndForgedEventsRefused) {
  auto expected = nb::testing::LoadJson(InteropDir() / "hub-public.expected.json");
  fs::path channel = dir_ / "channels" / expected["hub"]["publicKey"].get<std::string>();
  nb::testing::WriteText(channel / "NOT-HEX.bin", "junk");
  nb::testing::WriteText(channel / "notes.txt", "junk");
  RunResult ok = RunCli(Args({"verify"}));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  // A copy of a valid event under another valid-looking name is refused.
  fs::path some = *fs::directory_iterator(channel);
  for (const auto& e : fs::directory_iterator(channel)) {
    if (e.path().extension() == ".bin" && e.path().stem().string().size() == 64) some = e.path();
  }
  fs::copy_file(some, channel / (std::string(64, 'e') + ".bin"));
  RunResult bad = RunCli(Args({"--json", "log"}), kCorpusSecret);
  EXPECT_EQ(bad.exit_code, 1);
  Json log = Json::parse(bad.out);
  size_t invalid = 0;
  for (const auto& e : log["events"]) {
    if (e["valid"] == false) {
      ++invalid;
      EXPECT_NE(e["error"].get<std::string>().find("event-hash-mismatch"), std::string::npos);
    }
  }
  EXPECT_EQ(invalid, 1u);
}

TEST(CliCore, LegacyAppSampleIsNotAnEnvelopeStore) {
  TempDir dir;
  nb::testing::CopyTree(InteropDir() / "app-sample", dir.path());
  RunResult r = RunCli({"--store", dir.path().string(), "--json", "verify"});
  EXPECT_EQ(r.exit_code, 1);
  Json report = Json::parse(r.out);
  EXPECT_EQ(report["events"], 0);
  EXPECT_EQ(report["problems"].size(), 7u);  // none of its 7 files is an envelope 0.2 event
}

TEST(CliCore, CreateThenInfoOnAFreshStore) {
  TempDir home;
  std::map<std::string, std::string> env{{"NEARBYTES_HOME", home.path().string()},
                                         {"NEARBYTES_SECRET", "fresh:secret"}};
  RunResult create = RunCli({"hub", "create"}, env);
  ASSERT_EQ(create.exit_code, 0) << create.err;
  RunResult info = RunCli({"--json", "hub", "info"}, env);
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_EQ(Json::parse(info.out)["events"], 0);
  EXPECT_EQ(Json::parse(info.out)["name"], "fresh");
  EXPECT_TRUE(fs::is_directory(home / "store" / "blocks"));
}

TEST(CliCore, SecretFileAndMissingSecret) {
  TempDir home;
  nb::testing::WriteText(home / "secret.txt", "interop-public:correct horse\n");
  TempDir corpus;
  nb::testing::CopyTree(InteropDir() / "hub-public", corpus.path());
  RunResult ok = RunCli({"--store", corpus.path().string(), "--secret-file",
                         (home / "secret.txt").string(), "--json", "hub", "info"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Json::parse(ok.out)["events"], 29);
  // No secret, no terminal: a clear error, not a hang.
  RunResult none = RunCli({"--store", corpus.path().string(), "log"});
  EXPECT_TRUE(OneLineError(none)) << none.err;
  EXPECT_NE(none.err.find("NEARBYTES_SECRET"), std::string::npos);
  RunResult missing_file = RunCli({"--secret-file", (home / "nope").string(), "log"});
  EXPECT_TRUE(OneLineError(missing_file)) << missing_file.err;
}

TEST(CliCore, MissingStoreAndUsageErrors) {
  TempDir home;
  RunResult r = RunCli({"--store", (home / "absent").string(), "verify"});
  EXPECT_TRUE(OneLineError(r)) << r.err;
  EXPECT_NE(r.err.find("no store"), std::string::npos);
  RunResult usage = RunCli({"no-such-command"});
  EXPECT_EQ(usage.exit_code, 2);
  RunResult help = RunCli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("verify"), std::string::npos);
}

}  // namespace
}  // namespace nb
