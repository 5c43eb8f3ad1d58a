#!/usr/bin/env bash
# The guided tour started by ./run until the daemon exists: a hub, a file, a
# chat message, and a sync through a folder to a second "device", each step
# shown with the command that does it. It uses your default home
# ($NEARBYTES_HOME or ~/.nearbytes) for the first device and a scratch home
# for the second.
set -euo pipefail
cd "$(dirname "$0")/.."
NB="$PWD/${NEARBYTES_BUILD_DIR:-build}/nearbytes"
export NEARBYTES_HOME="${NEARBYTES_HOME:-$HOME/.nearbytes}"
export NEARBYTES_SECRET="${NEARBYTES_DEMO_SECRET:-demo:tour of nearbytes}"
TOUR="$(mktemp -d "${TMPDIR:-/tmp}/nearbytes-tour.XXXXXX")"
trap 'rm -rf "$TOUR"' EXIT

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() {
  printf '\033[36m$ %s\033[0m\n' "$*"
  "$@"
}

bold "Nearbytes tour — home: $NEARBYTES_HOME, demo hub secret: \"$NEARBYTES_SECRET\""
echo "(The secret comes from NEARBYTES_SECRET here; in daily use, type it when asked.)"

bold "1. A hub: its keys come from the secret, nothing is registered anywhere."
step "$NB" hub create --no-remember
step "$NB" hub info

bold "2. A file: encrypted, content-addressed, recorded as a signed event."
printf 'Hello from the Nearbytes tour.\nThis file lives in your hub.\n' > "$TOUR/hello.txt"
step "$NB" put "$TOUR/hello.txt" --to tour/
step "$NB" ls -r tour

bold "3. A chat message in the same hub."
step "$NB" say "Hello from the Nearbytes tour"
step "$NB" chat --limit 5

bold "4. Sync through a folder (a USB stick, a disk, a cloud-synced folder)."
step "$NB" sync --create "$TOUR/stick"
echo "A second device (another home) receives everything from the stick:"
step env NEARBYTES_HOME="$TOUR/device-b" "$NB" sync "$TOUR/stick"
step env NEARBYTES_HOME="$TOUR/device-b" "$NB" get tour/hello.txt -
step env NEARBYTES_HOME="$TOUR/device-b" "$NB" chat --limit 5

bold "5. Every block and event checks out (no secret needed for this)."
step "$NB" verify

if [[ -d ../shared/interop/hub-public ]]; then
  bold "6. A hub written by the reference (TypeScript) Nearbytes opens here too:"
  NEARBYTES_SECRET='interop-public:correct horse' step "$NB" --store ../shared/interop/hub-public hub info
fi

bold "Next steps"
echo "  $NB --help                 every command, with examples"
echo "  export NEARBYTES_SECRET='yourname:a long passphrase' && $NB hub create"
