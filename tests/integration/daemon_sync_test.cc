// Live sync between real daemons over loopback: `nearbytes serve` processes,
// joined with `nearbytes peers add`, driven by ordinary CLI commands.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "testing/daemon_support.h"
#include "testing/test_support.h"

namespace nb::testing {
namespace {

const char kSecret[] = "live:a long secret phrase shared by every device";
const char kOtherSecret[] = "other:a different long secret for another hub";
constexpr auto kConverge = std::chrono::seconds(60);

// A device: a home with the hub remembered, and a daemon on an ephemeral
// loopback port.
struct Device {
  Device(const fs::path& home, const std::string& secret) : home(home), secret(secret) {
    fs::create_directories(home);
    RunResult created = Run({"hub", "create"});
    EXPECT_EQ(created.exit_code, 0) << created.err;
  }
  void Start() {
    daemon =
        std::make_unique<DaemonProcess>(home, std::vector<std::string>{"--listen", "127.0.0.1:0"});
  }
  std::map<std::string, std::string> Env() const {
    return {{"NEARBYTES_HOME", home.string()},
            {"NEARBYTES_SECRET", secret},
            {"NEARBYTES_OFFLINE", "1"}};
  }
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "") const {
    return RunCli(args, Env(), input);
  }
  std::string Address() const {
    auto status = daemon->Status();
    return status["daemon"].value("listen", "");
  }
  fs::path home;
  std::string secret;
  std::unique_ptr<DaemonProcess> daemon;
};

void WriteRandom(const fs::path& path, size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::ofstream out(path, std::ios::binary);
  std::vector<char> chunk(1 << 16);
  for (size_t done = 0; done < size; done += chunk.size()) {
    for (auto& c : chunk) c = static_cast<char>(rng());
    out.write(chunk.data(), static_cast<std::streamsize>(std::min(chunk.size(), size - done)));
  }
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(DaemonSync, FilesChatAndProfilesConvergeBetweenTwoDaemons) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret);
  fs::create_directories(dir / "data" / "docs");
  WriteText(dir / "data" / "docs" / "note.txt", "hello from a\n");
  WriteRandom(dir / "data" / "big.bin", 12 << 20, 7);  // several chunks
  ASSERT_EQ(a.Run({"-q", "put", (dir / "data").string(), "--to", "data"}).exit_code, 0);
  ASSERT_EQ(a.Run({"profile", "init"}).exit_code, 0);
  ASSERT_EQ(a.Run({"profile", "set", "--name", "Ada"}).exit_code, 0);
  ASSERT_EQ(a.Run({"say", "first message from a"}).exit_code, 0);
  a.Start();
  b.Start();
  ASSERT_TRUE(a.daemon->Started() && b.daemon->Started()) << a.daemon->Log() << b.daemon->Log();
  ASSERT_EQ(b.Run({"peers", "add", a.Address()}).exit_code, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return b.Run({"cat", "data/docs/note.txt"}).out == "hello from a\n" &&
               Contains(b.Run({"chat"}).out, "first message from a") &&
               Contains(b.Run({"members"}).out, "Ada");
      },
      kConverge))
      << b.daemon->Log();
  ASSERT_EQ(b.Run({"get", "data/big.bin", (dir / "big-copy.bin").string()}).exit_code, 0);
  EXPECT_EQ(ReadText(dir / "big-copy.bin"), ReadText(dir / "data" / "big.bin"));
  // And back: B writes, A sees it.
  ASSERT_EQ(b.Run({"say", "reply from b"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return Contains(a.Run({"chat"}).out, "reply from b"); }, kConverge))
      << a.daemon->Log();
  auto peers = nlohmann::json::parse(b.Run({"--json", "peers"}).out, nullptr, false);
  ASSERT_TRUE(peers.is_object());
  ASSERT_EQ(peers["peers"].size(), 1u) << peers.dump();
  EXPECT_EQ(peers["peers"][0]["state"], "connected") << peers.dump();
  EXPECT_GT(peers["peers"][0].value("bytes_in", 0), 12 << 20) << peers.dump();
  EXPECT_EQ(b.Run({"verify"}).exit_code, 0);
}

TEST(DaemonSync, ALiveMessageReachesAFollowingChat) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret);
  a.Start();
  b.Start();
  ASSERT_EQ(b.Run({"peers", "add", a.Address()}).exit_code, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto peers = nlohmann::json::parse(b.Run({"--json", "peers"}).out, nullptr, false);
        return peers.is_object() && peers["peers"].size() == 1 &&
               peers["peers"][0]["state"] == "connected" && peers["peers"][0]["hubs"].size() == 1;
      },
      std::chrono::seconds(20)))
      << b.daemon->Log();
  // B follows its chat; A says something; B's follower prints it.
  int out_pipe[2];
  ASSERT_EQ(::pipe(out_pipe), 0);
  auto env = CliEnvironment(b.Env());
  int null_fd = ::open("/dev/null", O_RDWR);
  pid_t follower = StartCli({"--json", "chat", "--follow", "--follow-timeout", "30"}, env, null_fd,
                            out_pipe[1], null_fd);
  ::close(out_pipe[1]);
  ::close(null_fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the follower loads
  ASSERT_EQ(a.Run({"say", "live one"}).exit_code, 0);
  std::string printed;
  bool seen = WaitUntil(
      [&] {
        pollfd p{out_pipe[0], POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) {
          char buffer[4096];
          ssize_t n = ::read(out_pipe[0], buffer, sizeof(buffer));
          if (n > 0) printed.append(buffer, static_cast<size_t>(n));
        }
        return Contains(printed, "live one");
      },
      std::chrono::seconds(10));
  ::kill(follower, SIGTERM);
  int status;
  ::waitpid(follower, &status, 0);
  ::close(out_pipe[0]);
  EXPECT_TRUE(seen) << printed << a.daemon->Log() << b.daemon->Log();
}

TEST(DaemonSync, ConcurrentEditsBecomeTheSameConflictOnEveryDevice) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret);
  WriteText(dir / "from-a.txt", "a's version\n");
  WriteText(dir / "from-b.txt", "b's version\n");
  // Written while the devices cannot see each other.
  ASSERT_EQ(a.Run({"put", (dir / "from-a.txt").string(), "--to", "plan.txt"}).exit_code, 0);
  ASSERT_EQ(b.Run({"put", (dir / "from-b.txt").string(), "--to", "plan.txt"}).exit_code, 0);
  a.Start();
  b.Start();
  ASSERT_EQ(b.Run({"peers", "add", a.Address()}).exit_code, 0);
  auto conflicts = [](const Device& device) {
    return nlohmann::json::parse(device.Run({"--json", "conflicts"}).out, nullptr, false);
  };
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto on_a = conflicts(a), on_b = conflicts(b);
        return on_a.is_array() && on_a.size() == 1 && on_a == on_b;
      },
      kConverge))
      << conflicts(a).dump() << conflicts(b).dump() << b.daemon->Log();
  EXPECT_EQ(a.Run({"cat", "plan.txt"}).out, b.Run({"cat", "plan.txt"}).out);
}

TEST(DaemonSync, ThreeDaemonsInAChainConverge) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret), c(dir / "c", kSecret);
  a.Start();
  b.Start();
  c.Start();
  // a <- b <- c: a and c never meet.
  ASSERT_EQ(b.Run({"peers", "add", a.Address()}).exit_code, 0);
  ASSERT_EQ(c.Run({"peers", "add", b.Address()}).exit_code, 0);
  ASSERT_EQ(a.Run({"say", "from the first"}).exit_code, 0);
  ASSERT_EQ(c.Run({"say", "from the last"}).exit_code, 0);
  for (const Device* device : {&a, &b, &c}) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          std::string chat = device->Run({"chat"}).out;
          return Contains(chat, "from the first") && Contains(chat, "from the last");
        },
        kConverge))
        << device->home << device->daemon->Log();
  }
}

TEST(DaemonSync, APeerKilledMidTransferConvergesAfterARestart) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret);
  WriteRandom(dir / "big.bin", 160 << 20, 11);
  ASSERT_EQ(a.Run({"-q", "put", (dir / "big.bin").string(), "--to", "big.bin"}).exit_code, 0);
  a.Start();
  b.Start();
  ASSERT_EQ(b.Run({"peers", "add", a.Address()}).exit_code, 0);
  // Kill B once some of the file has arrived, before all of it has.
  auto received = [&] {
    auto peers = nlohmann::json::parse(b.Run({"--json", "peers"}).out, nullptr, false);
    if (!peers.is_object() || peers["peers"].empty()) return uint64_t{0};
    return peers["peers"][0].value("bytes_in", uint64_t{0});
  };
  ASSERT_TRUE(WaitUntil([&] { return received() > (8u << 20); }, kConverge)) << b.daemon->Log();
  b.daemon->Kill();
  // Whatever B holds is intact (a killed transfer publishes nothing half-written).
  RunResult verify_after_kill = b.Run({"verify"});
  EXPECT_FALSE(Contains(verify_after_kill.out + verify_after_kill.err, "corrupt"))
      << verify_after_kill.out << verify_after_kill.err;
  b.Start();  // peers.json brings the peer back
  ASSERT_TRUE(b.daemon->Started()) << b.daemon->Log();
  ASSERT_TRUE(WaitUntil(
      [&] {
        return b.Run({"get", "big.bin", (dir / "copy.bin").string(), "--force"}).exit_code == 0;
      },
      kConverge))
      << b.daemon->Log();
  EXPECT_EQ(ReadText(dir / "copy.bin"), ReadText(dir / "big.bin"));
  EXPECT_EQ(b.Run({"verify"}).exit_code, 0);
}

TEST(DaemonSync, ANonMemberGetsNothingAndLearnsNoHubId) {
  TempDir dir;
  Device a(dir / "a", kSecret), outsider(dir / "outsider", kOtherSecret);
  ASSERT_EQ(a.Run({"say", "members only"}).exit_code, 0);
  a.Start();
  outsider.Start();
  ASSERT_EQ(outsider.Run({"peers", "add", a.Address()}).exit_code, 0);
  // The outsider connects (TLS works) but shares no hub.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto peers = nlohmann::json::parse(outsider.Run({"--json", "peers"}).out, nullptr, false);
        return peers.is_object() && peers["peers"].size() == 1 &&
               peers["peers"][0]["state"] == "connected";
      },
      std::chrono::seconds(20)))
      << outsider.daemon->Log();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto peers = nlohmann::json::parse(outsider.Run({"--json", "peers"}).out, nullptr, false);
  EXPECT_TRUE(peers["peers"][0]["hubs"].empty()) << peers.dump();
  std::string a_hub = nlohmann::json::parse(a.Run({"--json", "hub", "info"}).out)["id"];
  // Nothing of A's hub reached the outsider's store, and its id appears
  // nowhere in the outsider's home (store, logs, caches).
  EXPECT_FALSE(fs::exists(outsider.home / "store" / "channels" / a_hub));
  for (const auto& entry : fs::recursive_directory_iterator(dir / "outsider")) {
    if (!entry.is_regular_file()) continue;
    EXPECT_FALSE(Contains(ReadText(entry.path()), a_hub.substr(2, 32))) << entry.path();
  }
  EXPECT_FALSE(Contains(outsider.daemon->Log(), a_hub.substr(2, 16)));
}

// Raw TCP to the sync port: garbage, then an endless stream. The daemon cuts
// it off and keeps serving a good peer.
TEST(DaemonSync, AHostileClientIsCutOffWhileAGoodPeerKeepsSyncing) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret);
  a.Start();
  b.Start();
  std::string address = a.Address();
  uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  std::string garbage(64 << 10, '\xff');
  ssize_t sent = ::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
  EXPECT_GT(sent, 0);
  ASSERT_EQ(b.Run({"peers", "add", address}).exit_code, 0);
  ASSERT_EQ(a.Run({"say", "still serving"}).exit_code, 0);
  EXPECT_TRUE(WaitUntil([&] { return Contains(b.Run({"chat"}).out, "still serving"); }, kConverge))
      << a.daemon->Log();
  // The garbage connection was closed by A.
  char buffer[256];
  bool closed = WaitUntil(
      [&] {
        ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
      },
      std::chrono::seconds(20));
  ::close(fd);
  EXPECT_TRUE(closed);
  EXPECT_FALSE(a.daemon->Status().is_null()) << "A is still running";
}

TEST(DaemonSync, AForgottenHubStopsBeingServed) {
  TempDir dir;
  Device a(dir / "a", kSecret), b(dir / "b", kSecret);
  a.Start();
  b.Start();
  ASSERT_EQ(b.Run({"peers", "add", a.Address()}).exit_code, 0);
  ASSERT_EQ(a.Run({"say", "before"}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] { return Contains(b.Run({"chat"}).out, "before"); }, kConverge))
      << b.daemon->Log();
  ASSERT_EQ(b.Run({"hub", "forget"}).exit_code, 0);
  ASSERT_TRUE(
      WaitUntil([&] { return b.daemon->Status()["hubs"].empty(); }, std::chrono::seconds(10)))
      << b.daemon->Log();
  ASSERT_EQ(a.Run({"say", "after"}).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // B still runs, still connected to A, and got nothing new of the hub.
  EXPECT_FALSE(b.daemon->Status().is_null()) << b.daemon->Log();
  EXPECT_FALSE(Contains(b.Run({"chat"}).out, "after")) << b.daemon->Log();
  EXPECT_FALSE(a.daemon->Status().is_null()) << a.daemon->Log();
}

}  // namespace
}  // namespace nb::testing
