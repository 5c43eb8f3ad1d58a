// Shared by the socket-carrier tests (peer_sync_test.cc, peer_transfer_test.cc):
// a Node is a real store with its hubs and a SyncService on its own io
// thread; helpers to wait (bounded) and to look at what a store holds.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/random.h"
#include "hub/hub.h"
#include "store/store.h"
#include "sync/peer/sync_service.h"

namespace nb::sync::peer::test {

namespace asio = boost::asio;
using crypto::Hash256;
using namespace std::chrono_literals;

inline crypto::PrivateKey NewInstanceKey() {
  for (;;) {
    crypto::Scalar scalar;
    crypto::RandomFill(scalar);
    auto key = crypto::PrivateKey::FromScalar(scalar);
    if (key.ok()) return std::move(key).value();
  }
}

inline const hub::HubKeys& Keys(const std::string& secret) {
  static std::map<std::string, std::unique_ptr<hub::HubKeys>> cache;
  auto& slot = cache[secret];
  if (!slot) slot = std::make_unique<hub::HubKeys>(hub::HubKeys::FromSecret(secret).value());
  return *slot;
}

// Polls `pred` every 10 ms until it holds or `limit` passes.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// A store, its hubs and a SyncService on its own io thread.
class Node {
 public:
  explicit Node(const std::filesystem::path& dir, SyncServiceOptions options = {})
      : dir_(dir), options_(options), key_(NewInstanceKey()) {
    store_ = store::Store::Open({dir}, true).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Node() {
    StopService();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  hub::Hub& OpenHub(const std::string& secret) {
    hubs_.push_back(hub::Hub::Open(store_.get(), Keys(secret), true).value());
    return *hubs_.back();
  }
  // Runs `fn` on the io thread and waits for it (at most 60 s).
  template <typename Fn>
  auto Run(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto future = task.get_future();
    asio::post(io_, [&task] { task(); });
    if (future.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "io thread did not answer";
      std::abort();
    }
    return future.get();
  }
  void StartService() {
    Run([this] {
      service_ = std::make_unique<SyncService>(io_, key_, store_.get(), options_);
      service_->on_events_received = [this](const std::string&, const std::vector<Hash256>& e) {
        received_events_ += e.size();
        last_received_at_ = std::chrono::steady_clock::now();
      };
      service_->on_block_received = [this](const Hash256&) { ++received_blocks_; };
      for (auto& hub : hubs_) service_->AddHub(hub.get());
    });
  }
  uint16_t Listen(uint16_t port = 0) {
    return Run([&] {
      Status listening = service_->Listen("127.0.0.1:" + std::to_string(port));
      EXPECT_TRUE(listening.ok()) << listening.error().message;
      return service_->bound_port();
    });
  }
  void Dial(uint16_t port) {
    Run([&] { service_->AddPeer("127.0.0.1:" + std::to_string(port)); });
  }
  void StopService() {
    if (service_)
      Run([this] {
        service_->Stop();
        service_.reset();
      });
  }
  std::vector<PeerStatus> Peers() {
    return Run([this] { return service_ ? service_->Peers() : std::vector<PeerStatus>{}; });
  }

  store::Store& store() { return *store_; }
  SyncService& service() { return *service_; }
  const crypto::PrivateKey& key() const { return key_; }
  std::atomic<size_t> received_events_{0};
  std::atomic<size_t> received_blocks_{0};
  std::atomic<std::chrono::steady_clock::time_point> last_received_at_{};

 private:
  std::filesystem::path dir_;
  SyncServiceOptions options_;
  crypto::PrivateKey key_;
  std::unique_ptr<store::Store> store_;
  std::vector<std::unique_ptr<hub::Hub>> hubs_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(io_)};
  std::thread thread_;
  std::unique_ptr<SyncService> service_;
};

inline std::set<Hash256> EventsOf(store::Store& store, const std::string& hub_id) {
  auto listed = store.ListEvents(hub_id);
  if (!listed.ok()) return {};
  return {listed->begin(), listed->end()};
}

inline std::set<Hash256> BlocksOf(store::Store& store) {
  std::set<Hash256> out;
  (void)store.primary().ForEachBlock([&](const Hash256& h) { out.insert(h); });
  return out;
}

inline size_t TempFilesIn(const std::filesystem::path& dir) {
  size_t n = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with(".tmp-")) ++n;
  }
  return n;
}

}  // namespace nb::sync::peer::test
