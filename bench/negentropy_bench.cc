// Reconciliation of 1,000,000 vs 1,000,010 ids (timestamp 0, as Nearbytes
// uses) with our negentropy implementation: round trips, bytes each way,
// CPU time of the reconciliation proper and of building the sets, and the
// cost of inserting new ids one at a time into a sealed set (a live
// connection). Usage: negentropy_bench [n] [extra] [frame size limit]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <vector>

#include "sync/negentropy.h"

namespace neg = nb::sync::negentropy;

namespace {

double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

neg::Id RandomId(std::mt19937_64& rng) {
  neg::Id id;
  for (size_t i = 0; i < 32; i += 8) {
    uint64_t word = rng();
    for (size_t b = 0; b < 8; ++b) id[i + b] = static_cast<uint8_t>(word >> (8 * b));
  }
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  size_t extra = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10;
  size_t limit = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  std::mt19937_64 rng(42);
  std::vector<neg::Id> ids(n + extra);
  for (neg::Id& id : ids) id = RandomId(rng);

  double build_start = CpuMs();
  neg::Storage a, b;
  a.Reserve(n);
  b.Reserve(n + extra);
  for (size_t i = 0; i < n; ++i) (void)a.Insert(0, ids[i]);
  for (size_t i = 0; i < n + extra; ++i) (void)b.Insert(0, ids[i]);
  double seal_start = CpuMs();
  a.Seal();
  b.Seal();
  double seal_ms = CpuMs() - seal_start;
  double build_ms = CpuMs() - build_start;

  double start = CpuMs();
  auto wall_start = std::chrono::steady_clock::now();
  neg::Reconciler initiator(a, limit), responder(b, limit);
  nb::Bytes query = *initiator.Initiate();
  size_t up = 0, down = 0, round_trips = 0;
  std::vector<neg::Id> have, need;
  while (true) {
    ++round_trips;
    up += query.size();
    nb::Result<nb::Bytes> reply = responder.Respond(query);
    if (!reply.ok()) return std::fprintf(stderr, "%s\n", reply.error().message.c_str()), 1;
    down += reply->size();
    nb::Result<std::optional<nb::Bytes>> next = initiator.Reconcile(*reply, &have, &need);
    if (!next.ok()) return std::fprintf(stderr, "%s\n", next.error().message.c_str()), 1;
    if (!next->has_value()) break;
    query = std::move(**next);
  }
  double reconcile_ms = CpuMs() - start;
  double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall_start)
          .count();

  const size_t kLive = 10'000;
  double live_start = CpuMs();
  for (size_t i = 0; i < kLive; ++i) (void)a.Insert(0, RandomId(rng));
  double live_us = (CpuMs() - live_start) * 1000 / kLive;

  std::printf("negentropy %zu vs %zu ids (timestamp 0, frame limit %zu)\n", n, n + extra, limit);
  std::printf("  reconciliation: %zu round trips, %zu bytes up, %zu bytes down (%zu in all)\n",
              round_trips, up, down, up + down);
  std::printf("  reconciliation CPU: %.1f ms (both sides; wall %.1f ms); need %zu, have %zu\n",
              reconcile_ms, wall_ms, need.size(), have.size());
  std::printf("  building both sets: %.0f ms CPU (of which sorting, Seal(): %.0f ms)\n", build_ms,
              seal_ms);
  std::printf("  live insert into a sealed set of %zu: %.2f us CPU each\n", a.size(), live_us);
  return need.size() == extra && have.empty() ? 0 : 1;
}
