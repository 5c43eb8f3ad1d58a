#!/usr/bin/env bash
# Crypto kernels of libnearbytes next to `openssl speed`, measured in the
# same run, in one table. Single thread on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BUILD="${NEARBYTES_BUILD_DIR:-build}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

"$BUILD/bench/crypto_bench" --benchmark_format=json --benchmark_min_time=1 > "$OUT/ours.json"
openssl speed -seconds 2 -bytes 1048576 -evp sha256 > "$OUT/sha.txt" 2>/dev/null
openssl speed -seconds 2 -bytes 1048576 -evp aes-256-gcm > "$OUT/aes.txt" 2>/dev/null
openssl speed -seconds 2 ecdsap256 > "$OUT/ecdsa.txt" 2>/dev/null

python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
ours = {b["name"]: b for b in json.load(open(f"{out}/ours.json"))["benchmarks"]}
def rate_mb(name): return ours[name]["bytes_per_second"] / 1e6
def per_s(name): return ours[name]["items_per_second"]
def ms(name): return ours[name]["real_time"]
def speed_mb(path, algo):
    for line in open(path):
        if line.lower().startswith(algo):
            # last column: thousands of bytes per second at 1 MiB blocks
            return float(line.split()[-1].rstrip("k")) * 1000 / 1e6
def ecdsa(path):
    for line in open(path):
        m = re.match(r"\s*256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if m: return float(m.group(1)), float(m.group(2))
sign, verify = ecdsa(f"{out}/ecdsa.txt")
rows = [
    ("SHA-256, 1 MiB buffers", "MB/s", rate_mb("BM_Sha256"), speed_mb(f"{out}/sha.txt", "sha256")),
    ("AES-256-GCM encrypt, 1 MiB", "MB/s", rate_mb("BM_AesGcmEncrypt"), speed_mb(f"{out}/aes.txt", "aes-256-gcm")),
    ("AES-256-GCM decrypt, 1 MiB", "MB/s", rate_mb("BM_AesGcmDecrypt"), None),
    ("ECDSA P-256 sign", "ops/s", per_s("BM_EcdsaSign"), sign),
    ("ECDSA P-256 verify", "ops/s", per_s("BM_EcdsaVerify"), verify),
    ("PBKDF2-SHA256, 100k iterations", "ms", ms("BM_Pbkdf2_100k"), None),
    ("secret -> hub keys (DeriveKeys)", "ms", ms("BM_DeriveKeys"), None),
]
print(f"{'kernel (one thread)':34} {'unit':>6} {'nearbytes':>12} {'openssl':>12} {'ratio':>7}")
for name, unit, mine, theirs in rows:
    t = f"{theirs:12.0f}" if theirs else f"{'-':>12}"
    r = f"{mine / theirs:7.2f}" if theirs else f"{'-':>7}"
    print(f"{name:34} {unit:>6} {mine:12.1f} {t} {r}")
PY
