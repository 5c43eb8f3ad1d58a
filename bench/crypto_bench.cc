// Kernels of the crypto layer, as libnearbytes calls them: SHA-256 and
// AES-256-GCM throughput on 1 MiB buffers, ECDSA P-256 sign and verify, and
// the secret -> keys derivation (100k-iteration PBKDF2). bench/crypto.sh
// runs it next to `openssl speed` and prints one table.
#include <benchmark/benchmark.h>

#include "crypto/aead.h"
#include "crypto/ecdsa.h"
#include "crypto/kdf.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

namespace nb::crypto {
namespace {

constexpr size_t kBuffer = 1 << 20;

void BM_Sha256(benchmark::State& state) {
  Bytes data = RandomBytes(kBuffer);
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBuffer));
}
BENCHMARK(BM_Sha256);

void BM_AesGcmEncrypt(benchmark::State& state) {
  SymmetricKey key{};
  RandomFill(key);
  GcmIv iv{};
  Bytes data = RandomBytes(kBuffer);
  Bytes out(kBuffer + kGcmOverhead);
  for (auto _ : state) {
    AesGcmEncryptInto(key, iv, data, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBuffer));
}
BENCHMARK(BM_AesGcmEncrypt);

void BM_AesGcmDecrypt(benchmark::State& state) {
  SymmetricKey key{};
  RandomFill(key);
  Bytes sealed = AesGcmEncrypt(key, RandomBytes(kBuffer));
  for (auto _ : state) benchmark::DoNotOptimize(AesGcmDecrypt(key, sealed));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBuffer));
}
BENCHMARK(BM_AesGcmDecrypt);

const PrivateKey& BenchKey() {
  static const PrivateKey* key = [] {
    Scalar scalar{};
    RandomFill(scalar);
    scalar[0] &= 0x7f;  // below the group order
    return new PrivateKey(*PrivateKey::FromScalar(scalar));
  }();
  return *key;
}

void BM_EcdsaSign(benchmark::State& state) {
  Hash256 digest = Sha256(AsBytes("message"));
  for (auto _ : state) benchmark::DoNotOptimize(BenchKey().SignDigest(digest));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaSign);

void BM_EcdsaVerify(benchmark::State& state) {
  Hash256 digest = Sha256(AsBytes("message"));
  Signature sig = BenchKey().SignDigest(digest);
  const PublicKey& pub = BenchKey().public_key();
  for (auto _ : state) benchmark::DoNotOptimize(pub.VerifyDigest(digest, sig));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcdsaVerify);

void BM_Pbkdf2_100k(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        Pbkdf2Sha256(AsBytes("secret"), AsBytes("nearbytes-private-key-v1"), 100000, 32));
  }
}
BENCHMARK(BM_Pbkdf2_100k)->Unit(benchmark::kMillisecond);

void BM_DeriveKeys(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(DeriveKeys(AsBytes("team:secret")));
}
BENCHMARK(BM_DeriveKeys)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace nb::crypto

BENCHMARK_MAIN();
