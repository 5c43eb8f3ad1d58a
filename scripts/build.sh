#!/usr/bin/env bash
# Configures and builds Nearbytes (Release by default) into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${NEARBYTES_BUILD_TYPE:-Release}"
BUILD_DIR="${NEARBYTES_BUILD_DIR:-build}"
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >&2
fi
cmake --build "$BUILD_DIR" -j "$(nproc)" >&2
