// LAN discovery between real sockets on a real (virtual) link: three network
// namespaces joined by a bridge in a fourth, each running tests/tools/lan_probe.
// Needs root (ip netns); skipped with a message otherwise. Every name carries
// this process's id, so parallel runs do not collide, and namespaces left by
// a killed run are removed by the next one.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hub/hub.h"
#include "testing/daemon_support.h"

namespace {

namespace fs = std::filesystem;

constexpr const char* kPrefix = "nblan";

// Runs a shell command; its output goes to the test's log.
bool Shell(const std::string& command) {
  int rc = std::system((command + " 2>&1").c_str());
  if (rc != 0) std::cerr << "command failed (" << rc << "): " << command << "\n";
  return rc == 0;
}

std::string ShellOutput(const std::string& command) {
  std::string out;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
  }
  return out;
}

bool HaveIp() { return std::system("command -v ip >/dev/null 2>&1") == 0; }

// Removes namespaces named nblan<pid>-... whose process is gone.
void RemoveStaleNamespaces() {
  std::istringstream list(ShellOutput("ip netns list 2>/dev/null"));
  std::string line;
  while (std::getline(list, line)) {
    std::string name = line.substr(0, line.find(' '));
    if (name.rfind(kPrefix, 0) != 0) continue;
    pid_t pid = std::atoi(name.c_str() + std::strlen(kPrefix));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) Shell("ip netns del " + name);
  }
}

// A bridge in its own namespace and one namespace per node, each with an
// eth0 on the bridge carrying a fixed IPv4 address and a fixed link-local
// IPv6 address (no autoconfiguration, no duplicate detection: usable at once).
class Lab {
 public:
  Lab() : base_(std::string(kPrefix) + std::to_string(getpid()) + "-" + std::to_string(next_++)) {}
  ~Lab() {
    for (const std::string& ns : namespaces_) Shell("ip netns del " + ns);
  }

  std::string Switch() const { return base_ + "-sw"; }
  std::string Node(char name) const { return base_ + "-" + name; }

  bool Build(const std::string& nodes) {
    if (!AddNamespace(Switch())) return false;
    bool ok = Shell("ip -n " + Switch() + " link set lo up") &&
              // No IGMP/MLD snooping: without a querier it may hold multicast back.
              Shell("ip -n " + Switch() + " link add br0 type bridge mcast_snooping 0") &&
              Shell("ip -n " + Switch() + " link set br0 up");
    int number = 1;
    for (char node : nodes) {
      std::string ns = Node(node);
      std::string port = std::string("v") + node;
      ok = ok && AddNamespace(ns) && Shell("ip -n " + ns + " link set lo up") &&
           Shell("ip -n " + Switch() + " link add " + port + " type veth peer name eth0 netns " +
                 ns) &&
           Shell("ip -n " + Switch() + " link set " + port + " master br0 up") &&
           Shell("ip -n " + ns + " link set eth0 addrgenmode none") &&
           Shell("ip -n " + ns + " addr add 10.47.0." + std::to_string(number) + "/24 dev eth0") &&
           Shell("ip -n " + ns + " addr add fe80::" + std::to_string(number) +
                 "/64 dev eth0 nodad") &&
           Shell("ip -n " + ns + " link set eth0 up");
      ++number;
    }
    return ok;
  }

 private:
  bool AddNamespace(const std::string& name) {
    if (!Shell("ip netns add " + name)) return false;
    namespaces_.push_back(name);
    return true;
  }
  static inline int next_ = 0;
  std::string base_;
  std::vector<std::string> namespaces_;
};

struct Probe {
  pid_t pid = -1;
  fs::path out;
  fs::path err;
  int exit_code = -1;
};

Probe StartProbe(const std::string& ns, const std::vector<std::string>& args, const fs::path& dir,
                 const std::string& label) {
  Probe probe;
  probe.out = dir / (label + ".out");
  probe.err = dir / (label + ".err");
  std::vector<std::string> argv = {"ip", "netns", "exec", ns, LAN_PROBE_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = fork();
  if (pid == 0) {
    int out = open(probe.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(probe.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    execvp("ip", c_argv.data());
    _exit(127);
  }
  probe.pid = pid;
  return probe;
}

// Waits until `deadline`, then kills what is left.
void Wait(Probe& probe, std::chrono::steady_clock::time_point deadline) {
  int status = 0;
  while (true) {
    pid_t done = waitpid(probe.pid, &status, WNOHANG);
    if (done == probe.pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(probe.pid, SIGKILL);
      waitpid(probe.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  probe.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> PeerLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(Read(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("peer ", 0) == 0) lines.push_back(line);
  }
  return lines;
}

bool Contains(const std::vector<std::string>& lines, const std::string& wanted) {
  return std::find(lines.begin(), lines.end(), wanted) != lines.end();
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += "  " + line + "\n";
  return out.empty() ? "  (none)\n" : out;
}

class LanNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create network namespaces (ip netns)";
    if (!HaveIp()) GTEST_SKIP() << "needs the ip command (Debian package iproute2)";
    RemoveStaleNamespaces();
    dir_ = fs::temp_directory_path() / ("nb-lan-netns-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(LanNetnsTest, MembersFindEachOtherOnIpv4AndIpv6AndOthersSeeNothing) {
  Lab lab;
  ASSERT_TRUE(lab.Build("abc")) << "could not build the namespaces and the bridge";

  const std::string h1_secret = "lan netns test hub one";
  const std::string h2_secret = "lan netns test hub two";
  auto h1 = nb::hub::HubKeys::FromSecret(h1_secret);
  auto h2 = nb::hub::HubKeys::FromSecret(h2_secret);
  ASSERT_TRUE(h1.ok() && h2.ok());

  // A and B hold H1; C holds only H2. Announcements every ~300 ms for 3 s.
  auto args = [](const std::string& secret, int sync_port) {
    return std::vector<std::string>{"--secret",  secret, "--sync-port",   std::to_string(sync_port),
                                    "--seconds", "3",    "--interval-ms", "300"};
  };
  Probe a = StartProbe(lab.Node('a'), args(h1_secret, 5001), dir_, "a");
  Probe b = StartProbe(lab.Node('b'), args(h1_secret, 5002), dir_, "b");
  Probe c = StartProbe(lab.Node('c'), args(h2_secret, 5003), dir_, "c");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (Probe* probe : {&a, &b, &c}) Wait(*probe, deadline);
  for (auto [probe, name] : {std::pair{&a, "a"}, {&b, "b"}, {&c, "c"}}) {
    EXPECT_EQ(probe->exit_code, 0) << name << " stderr:\n" << Read(probe->err);
  }

  std::vector<std::string> seen_by_a = PeerLines(a.out);
  std::vector<std::string> seen_by_b = PeerLines(b.out);
  std::vector<std::string> seen_by_c = PeerLines(c.out);
  const std::string& id1 = h1->id();
  EXPECT_TRUE(Contains(seen_by_a, "peer 10.47.0.2 5002 " + id1)) << Join(seen_by_a);
  EXPECT_TRUE(Contains(seen_by_a, "peer fe80::2%eth0 5002 " + id1)) << Join(seen_by_a);
  EXPECT_TRUE(Contains(seen_by_b, "peer 10.47.0.1 5001 " + id1)) << Join(seen_by_b);
  EXPECT_TRUE(Contains(seen_by_b, "peer fe80::1%eth0 5001 " + id1)) << Join(seen_by_b);
  // Nothing else: not C (which shares no hub), and each address once in 3 s
  // (the 10 s report interval holds back the repeats).
  EXPECT_EQ(seen_by_a.size(), 2u) << Join(seen_by_a);
  EXPECT_EQ(seen_by_b.size(), 2u) << Join(seen_by_b);
  EXPECT_TRUE(seen_by_c.empty()) << Join(seen_by_c);
  // What C printed names no hub but its own.
  EXPECT_EQ(Read(c.out), "hub " + h2->id() + "\n");
}

// Only one family enabled: discovery still works over it alone, and the
// other family's addresses never show up.
TEST_F(LanNetnsTest, EachFamilyWorksAlone) {
  Lab lab;
  ASSERT_TRUE(lab.Build("ab"));
  const std::string secret = "lan netns test single family";
  auto hub = nb::hub::HubKeys::FromSecret(secret);
  ASSERT_TRUE(hub.ok());
  for (const std::string family : {"--no-ipv6", "--no-ipv4"}) {
    auto args = [&](int sync_port) {
      return std::vector<std::string>{
          "--secret",      secret, "--sync-port", std::to_string(sync_port), "--seconds", "2",
          "--interval-ms", "300",  family};
    };
    Probe a = StartProbe(lab.Node('a'), args(6001), dir_, "a" + family);
    Probe b = StartProbe(lab.Node('b'), args(6002), dir_, "b" + family);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    Wait(a, deadline);
    Wait(b, deadline);
    EXPECT_EQ(a.exit_code, 0) << Read(a.err);
    EXPECT_EQ(b.exit_code, 0) << Read(b.err);
    std::string expected = family == "--no-ipv6" ? "peer 10.47.0.2 6002 " + hub->id()
                                                 : "peer fe80::2%eth0 6002 " + hub->id();
    std::vector<std::string> seen = PeerLines(a.out);
    EXPECT_EQ(seen, std::vector<std::string>{expected}) << family << "\n" << Join(seen);
  }
}

// With a 60 s interval only the start and changes are announced: a hub added
// at 1 s reaches the other member at once, not at the next round.
TEST_F(LanNetnsTest, AHubAddedLaterIsAnnouncedAtOnce) {
  Lab lab;
  ASSERT_TRUE(lab.Build("ab"));
  const std::string shared = "lan netns test added later";
  const std::string other = "lan netns test only on a";
  auto hub = nb::hub::HubKeys::FromSecret(shared);
  ASSERT_TRUE(hub.ok());
  // A starts without the shared hub (B's start announcement means nothing
  // to it), then adds it at 1 s.
  Probe a = StartProbe(lab.Node('a'),
                       {"--secret", other, "--later-secret", shared, "--later-ms", "1000",
                        "--sync-port", "7001", "--seconds", "3", "--interval-ms", "60000"},
                       dir_, "a-later");
  Probe b = StartProbe(lab.Node('b'),
                       {"--secret", shared, "--sync-port", "7002", "--seconds", "3",
                        "--interval-ms", "60000", "--no-ipv6"},
                       dir_, "b-later");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  Wait(a, deadline);
  Wait(b, deadline);
  EXPECT_EQ(a.exit_code, 0) << Read(a.err);
  EXPECT_EQ(b.exit_code, 0) << Read(b.err);
  std::vector<std::string> seen = PeerLines(b.out);
  EXPECT_EQ(seen, std::vector<std::string>{"peer 10.47.0.1 7001 " + hub->id()}) << Join(seen);
}

// A node started before its link is up (a laptop before Wi-Fi) starts
// announcing and listening on it once it is: interfaces are re-listed each round.
TEST_F(LanNetnsTest, AnInterfaceThatComesUpLaterIsUsed) {
  Lab lab;
  ASSERT_TRUE(lab.Build("ab"));
  ASSERT_TRUE(Shell("ip -n " + lab.Node('a') + " link set eth0 down"));
  const std::string secret = "lan netns test link up later";
  auto hub = nb::hub::HubKeys::FromSecret(secret);
  ASSERT_TRUE(hub.ok());
  auto args = [&](int sync_port) {
    return std::vector<std::string>{"--secret",  secret, "--sync-port",   std::to_string(sync_port),
                                    "--seconds", "3",    "--interval-ms", "300",
                                    "--no-ipv6"};
  };
  Probe a = StartProbe(lab.Node('a'), args(8001), dir_, "a-up");
  Probe b = StartProbe(lab.Node('b'), args(8002), dir_, "b-up");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_TRUE(Shell("ip -n " + lab.Node('a') + " link set eth0 up"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  Wait(a, deadline);
  Wait(b, deadline);
  EXPECT_EQ(a.exit_code, 0) << Read(a.err);
  EXPECT_EQ(b.exit_code, 0) << Read(b.err);
  EXPECT_EQ(PeerLines(a.out), std::vector<std::string>{"peer 10.47.0.2 8002 " + hub->id()})
      << Join(PeerLines(a.out));
  EXPECT_EQ(PeerLines(b.out), std::vector<std::string>{"peer 10.47.0.1 8001 " + hub->id()})
      << Join(PeerLines(b.out));
}

}  // namespace

// ---- whole daemons on the LAN ----------------------------------------------
// `nearbytes serve` in each namespace, with nothing configured: members find
// each other by LAN discovery and sync; a non-member neither connects for
// that hub nor receives anything of it.

namespace daemons {

struct NamespacedDaemon {
  pid_t pid = -1;
  fs::path home;
  fs::path log;
  ~NamespacedDaemon() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      for (int i = 0; i < 500; ++i) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

std::string RunIn(const fs::path& home, const std::string& secret, const std::string& args) {
  std::string command = "NEARBYTES_HOME='" + home.string() + "' ";
  if (!secret.empty()) command += "NEARBYTES_SECRET='" + secret + "' ";
  return ShellOutput(command + NEARBYTES_CLI_PATH + " " + args + " 2>&1");
}

void StartDaemon(NamespacedDaemon* daemon, const std::string& ns, const fs::path& home) {
  daemon->home = home;
  daemon->log = home.string() + ".log";
  pid_t pid = fork();
  if (pid == 0) {
    int log = open(daemon->log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log < 0) _exit(126);
    dup2(log, 2);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    setenv("NEARBYTES_HOME", home.c_str(), 1);
    unsetenv("NEARBYTES_OFFLINE");
    unsetenv("NEARBYTES_SECRET");
    execlp("ip", "ip", "netns", "exec", ns.c_str(), NEARBYTES_CLI_PATH, "serve", "--listen",
           "0.0.0.0:4441", static_cast<char*>(nullptr));
    _exit(127);
  }
  daemon->pid = pid;
}

}  // namespace daemons

TEST_F(LanNetnsTest, DaemonsOfOneHubFindEachOtherAndSyncWithNothingConfigured) {
  using namespace daemons;
  Lab lab;
  ASSERT_TRUE(lab.Build("abc")) << "could not build the namespaces and the bridge";
  const std::string shared = "lan-hub:a long secret phrase for the lan test";
  const std::string other = "lan-other:another long secret phrase, not shared";
  fs::path a = dir_ / "a", b = dir_ / "b", c = dir_ / "c";
  RunIn(a, shared, "hub create");
  RunIn(b, shared, "hub create");
  RunIn(c, other, "hub create");
  RunIn(a, shared, "say 'found you on the lan'");
  std::string hub_id = RunIn(a, shared, "--json hub info");
  auto id_at = hub_id.find("\"id\": \"");
  ASSERT_NE(id_at, std::string::npos) << hub_id;
  hub_id = hub_id.substr(id_at + 7, 130);
  NamespacedDaemon da, db, dc;
  StartDaemon(&da, lab.Node('a'), a);
  StartDaemon(&db, lab.Node('b'), b);
  StartDaemon(&dc, lab.Node('c'), c);
  EXPECT_TRUE(nb::testing::WaitUntil(
      [&] { return RunIn(b, shared, "chat").find("found you on the lan") != std::string::npos; },
      std::chrono::seconds(40)))
      << "a:\n"
      << nb::testing::ReadText(da.log) << "b:\n"
      << nb::testing::ReadText(db.log);
  // B's peer is A, found on the link (no `peers add` anywhere).
  std::string peers = RunIn(b, "", "--json peers");
  EXPECT_NE(peers.find("10.47.0.1"), std::string::npos) << peers;
  // C learnt nothing of the shared hub: no channel, no connection for it,
  // and its id is not in C's log.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_FALSE(fs::exists(c / "store" / "channels" / hub_id));
  EXPECT_EQ(nb::testing::ReadText(dc.log).find(hub_id.substr(0, 16)), std::string::npos)
      << nb::testing::ReadText(dc.log);
  std::string c_peers = RunIn(c, "", "--json peers");
  EXPECT_EQ(c_peers.find(hub_id.substr(0, 16)), std::string::npos) << c_peers;
}
