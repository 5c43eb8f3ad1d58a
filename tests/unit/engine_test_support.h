// Shared by the engine tests: a private $NEARBYTES_HOME, a node on a temp
// store with one hub open, and small file helpers. Everything is real: real
// stores on disk, real crypto, the engine's operations called directly (no
// CLI).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <random>
#include <string>

#include "engine/files_session.h"
#include "engine/hubs.h"
#include "engine/node.h"
#include "testing/test_support.h"

namespace nb::engine::testing {

namespace fs = std::filesystem;
using nb::testing::TempDir;

inline constexpr const char* kSecret = "engine-test:a long enough passphrase for the tests";

inline std::string RandomText(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>('a' + rng() % 26);
  return out;
}

inline void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// $NEARBYTES_HOME points at a private directory for the test's life.
class HomeFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("NEARBYTES_HOME");
    if (old != nullptr) saved_home_ = old;
    ::setenv("NEARBYTES_HOME", (home_ / "home").c_str(), 1);
    fs::create_directories(home_ / "home");
  }
  void TearDown() override {
    if (saved_home_) {
      ::setenv("NEARBYTES_HOME", saved_home_->c_str(), 1);
    } else {
      ::unsetenv("NEARBYTES_HOME");
    }
  }

  // A node on a new store at `dir`, with the hub of kSecret created (not
  // remembered).
  std::unique_ptr<Node> NewNode(const fs::path& dir, hub::Hub** hub) {
    NodeOptions options;
    options.primary = dir;
    options.create = true;
    auto node = Node::Open(options, nullptr);
    EXPECT_TRUE(node.ok()) << node.error().message;
    auto created = CreateHub(**node, kSecret, false, /*remember=*/false);
    EXPECT_TRUE(created.ok()) << created.error().message;
    *hub = created->hub;
    return std::move(*node);
  }

  TempDir home_;
  TempDir temp_;
  std::optional<std::string> saved_home_;
};

}  // namespace nb::engine::testing
