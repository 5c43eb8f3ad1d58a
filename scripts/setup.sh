#!/usr/bin/env bash
# Installs the Debian packages Nearbytes needs to build, test and benchmark.
# Idempotent: only missing packages are installed, and apt is asked only then.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev libsqlite3-dev libboost-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-format openssl ccache
  iproute2  # ip netns for the LAN discovery tests (not in minimal images)
  node-typescript  # builds the reference reader's missing dist/ (scripts/prepare-reference-reader.sh)
  perl libsession-token-perl nodejs  # the negentropy conformance kit (tests/tools/negentropy_kit.sh)
)
# Peers for the side-by-side benchmarks (bench/): only when asked, they are not needed to build.
if [[ "${NEARBYTES_BENCH_PEERS:-0}" == 1 ]]; then
  PACKAGES+=(restic borgbackup rsync hyperfine time bc python3 syncthing openssh-server openssh-client)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
