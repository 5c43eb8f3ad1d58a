#!/usr/bin/env bash
# The main job of ./run: the Nearbytes daemon on the default home
# ($NEARBYTES_HOME or ~/.nearbytes), in the foreground, logging to stderr.
# The first time (an empty store) a short guided tour runs first.
set -euo pipefail
cd "$(dirname "$0")/.."
NB="$PWD/${NEARBYTES_BUILD_DIR:-build}/nearbytes"
export NEARBYTES_HOME="${NEARBYTES_HOME:-$HOME/.nearbytes}"

# The first time (an empty store), the tour shows what Nearbytes does.
if [[ -z "$(ls -A "$NEARBYTES_HOME/store/channels" 2>/dev/null)" ]]; then
  scripts/demo.sh
  echo
fi
if [[ ! -s "$NEARBYTES_HOME/secrets" ]]; then
  cat <<TEXT
No hub secret is remembered in $NEARBYTES_HOME yet, so the daemon has nothing
to serve. Create a hub (or open one another device made) and it is served at
once, no restart needed:
  $NB hub create --generate --name team      # a new hub with a strong secret
  $NB hub create                             # or type the secret of an existing hub

TEXT
fi

port=4441
listen="0.0.0.0:$port"
if [[ "${NEARBYTES_OFFLINE:-0}" == 1 ]]; then listen="127.0.0.1:$port"; fi
address=$(hostname -I 2>/dev/null | awk '{print $1}')
cat <<TEXT
Starting the Nearbytes daemon (home: $NEARBYTES_HOME, sync on $listen).
  In another terminal:   $NB status
                         $NB peers
  On another device that remembers the same hub secret:
                         nearbytes peers add ${address:-THIS-MACHINE}:$port
  Stop with Ctrl-C (it finishes cleanly).
TEXT
[[ "${NEARBYTES_OFFLINE:-0}" == 1 ]] && echo "  NEARBYTES_OFFLINE=1: loopback only, no LAN discovery."
exec "$NB" serve --listen "$listen" "$@"
