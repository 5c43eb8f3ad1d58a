#!/usr/bin/env bash
# The guided tour printed by ./run: a hub, its history, and a verification,
# each step shown with the command that did it.
set -euo pipefail
cd "$(dirname "$0")/.."
NB="$PWD/${NEARBYTES_BUILD_DIR:-build}/nearbytes"
export NEARBYTES_HOME="${NEARBYTES_HOME:-$HOME/.nearbytes}"
export NEARBYTES_SECRET="${NEARBYTES_DEMO_SECRET:-demo:tour of nearbytes}"

step() {
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  "$@"
}

echo "Nearbytes tour. Home: $NEARBYTES_HOME (secret of the demo hub: \"$NEARBYTES_SECRET\")"
step "$NB" --help
step "$NB" hub create
step "$NB" hub info
step "$NB" log
step "$NB" verify
if [[ -d ../shared/interop/hub-public ]]; then
  echo
  echo "A hub written by the reference (TypeScript) Nearbytes, opened read-only:"
  NEARBYTES_SECRET='interop-public:correct horse' step "$NB" --store ../shared/interop/hub-public hub info
fi
echo
echo "Next: set NEARBYTES_SECRET to your own secret and run '$NB hub create'."
