#!/usr/bin/env bash
# Configures and builds Nearbytes (Release by default) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${NEARBYTES_BUILD_TYPE:-Release}"
BUILD_DIR="${NEARBYTES_BUILD_DIR:-build}"
# ccache makes rebuilds in other worktrees and after a clean cheap; optional.
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Relative paths in the cache key, so two checkouts share one cache.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(cd .. && pwd)}" CCACHE_NOHASHDIR=true
fi
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${LAUNCHER[@]}" >&2
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" >&2
