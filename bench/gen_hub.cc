// Generates a large hub for the replay benchmark: signed, encrypted events
// in the reference layout, written with one batched sync.
//
//   gen_hub STORE SECRET files|chat COUNT
//
// "files": a mixed history (about 70% FILES operations with parent links,
// 30% chat); "chat": chat messages only. Running it again on the same store
// appends COUNT more events after the existing ones.
#include <atomic>
#include <iostream>
#include <random>

#include "apps/chat/chat_reading.h"
#include "apps/files/file_content.h"
#include "base/parallel.h"
#include "hub/hub.h"
#include "store/batch_publisher.h"

using namespace nb;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: gen_hub STORE SECRET files|chat COUNT\n";
    return 2;
  }
  std::string kind = argv[3];
  size_t count = std::stoul(argv[4]);
  auto store = store::Store::Open({argv[1]}, true);
  auto keys = hub::HubKeys::FromSecret(argv[2]);
  if (!store.ok() || !keys.ok()) {
    std::cerr << "gen_hub: cannot open the store or derive the keys\n";
    return 1;
  }
  auto hub = hub::Hub::Open(store->get(), *keys, true);
  const auto& hub_key = (*hub)->keys().symmetric_key();
  size_t existing = (*hub)->log().ListEventHashes()->size();
  int64_t base_ts = 1700000000000 + static_cast<int64_t>(existing) * 10;

  // A few content blocks the CREATE_FILE events point at.
  auto fek = apps::files::DedupFileKey(hub_key);
  std::vector<crypto::Hash256> blocks;
  for (int i = 0; i < 64; ++i) {
    Bytes block = crypto::AesGcmEncrypt(fek, AsBytes("content " + std::to_string(i)));
    blocks.push_back(*(*store)->PutBlock(block));
  }
  std::string wrapped = Base64Encode(apps::files::WrapFileKey(hub_key, fek));

  // Payloads first (parents need hashes, so FILES events chain in order:
  // each names the previous FILES event, as a single writer would).
  std::mt19937_64 rng(existing + 1);
  store::BatchPublisher batch(&(*store)->primary());
  std::optional<crypto::Hash256> head;
  const size_t chunk = 20000;
  for (size_t start = 0; start < count; start += chunk) {
    size_t n = std::min(chunk, count - start);
    std::vector<std::string> payloads(n);
    std::vector<bool> is_files(n);
    for (size_t i = 0; i < n; ++i) {
      int64_t ts = base_ts + static_cast<int64_t>(start + i) * 10;
      bool files = kind == "files" && rng() % 10 < 7;
      is_files[i] = files;
      if (!files) {
        payloads[i] = *apps::chat::BuildChatPayload((*hub)->keys().signing_key(),
                                                    "message " + std::to_string(start + i), ts);
        continue;
      }
      std::string path = "d" + std::to_string(rng() % 50) + "/f" + std::to_string(rng() % 400);
      int op = static_cast<int>(rng() % 10);
      if (op < 7) {
        payloads[i] = R"({"type":"CREATE_FILE","path":")" + path +
                      R"(","content":{"protocol":"nb.content.single.v1","blockHash":")" +
                      blocks[rng() % blocks.size()].Hex() + R"("},"wrappedKey":")" + wrapped +
                      R"(","createdAt":)" + std::to_string(ts) + "}";
      } else if (op < 8) {
        payloads[i] = R"({"type":"MKDIR","path":"d)" + std::to_string(rng() % 60) +
                      R"(","createdAt":)" + std::to_string(ts) + "}";
      } else if (op < 9) {
        payloads[i] =
            R"({"type":"DELETE","path":")" + path + R"(","deletedAt":)" + std::to_string(ts) + "}";
      } else {
        payloads[i] = R"({"type":"RENAME","fromPath":")" + path + R"(","toPath":"moved/)" +
                      std::to_string(start + i) + R"(","renamedAt":)" + std::to_string(ts) + "}";
      }
    }
    // FILES events chain through their parents: sign those in order; chat
    // events are independent and signed in parallel.
    std::vector<Bytes> sealed(n);
    ParallelFor(n, 0, [&](size_t i) { sealed[i] = (*hub)->keys().SealPayload(payloads[i]); });
    std::vector<std::optional<std::vector<crypto::Hash256>>> refs(n);
    for (size_t i = 0; i < n; ++i) {
      if (!is_files[i]) continue;
      std::vector<crypto::Hash256> r;
      if (head) r.push_back(*head);
      auto event =
          (*hub)->log().AppendStaged((*hub)->keys().signing_key(), r, std::move(sealed[i]), batch);
      head = event->hash;
    }
    std::atomic<bool> failed{false};
    ParallelFor(n, 0, [&](size_t i) {
      if (is_files[i]) return;
      if (!(*hub)
               ->log()
               .AppendStaged((*hub)->keys().signing_key(), {}, std::move(sealed[i]), batch)
               .ok()) {
        failed = true;
      }
    });
    if (failed || !batch.Commit().ok()) {
      std::cerr << "gen_hub: writing failed\n";
      return 1;
    }
    std::cerr << "\rgen_hub: " << start + n << "/" << count << " events" << std::flush;
  }
  std::cerr << "\n";
  return 0;
}
