#!/usr/bin/env bash
# Replay benchmark (issue 4): a generated hub of 100,000 mixed events (FILES
# operations and chat) and one of 1,000,000 chat events. For each: cold
# replay (empty .nearbytes/), warm reopen with nothing new, warm reopen after
# 100 new events, and `chat --limit 50`; events/s and peak RSS, next to the
# signature-verification limit measured in the same run (ECDSA P-256
# verifies per second x cores). One table.
#
#   NB_BENCH_MIXED=20000 NB_BENCH_CHAT=100000 bench/replay_bench.sh   # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
NEARBYTES_BENCH_PEERS=1 scripts/setup.sh
scripts/build.sh
BUILD="$PWD/${NEARBYTES_BUILD_DIR:-build}"
NB="$BUILD/nearbytes"
MIXED="${NB_BENCH_MIXED:-100000}"
CHAT="${NB_BENCH_CHAT:-1000000}"
WORK="$(mktemp -d "${NB_BENCH_DIR:-/var/tmp}/nbreplay.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export NEARBYTES_SECRET='bench:replay benchmark' NEARBYTES_HOME="$WORK/home"

VERIFY=$("$BUILD/bench/crypto_bench" --benchmark_filter=EcdsaVerify --benchmark_format=json \
  --benchmark_min_time=1 2>/dev/null | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["benchmarks"][0]["items_per_second"]))')
CORES=$(nproc)
LIMIT=$((VERIFY * CORES))

ROWS=()
measure() {  # LABEL EVENTS CMD...
  local label="$1" events="$2"; shift 2
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$@" > /dev/null 2> "$WORK/err" || {
    echo "FAILED: $label" >&2; cat "$WORK/err" >&2; return 1; }
  read -r wall rss < "$WORK/t"
  ROWS+=("$label|$wall|$((rss / 1024))|$events")
}

run_hub() {  # NAME KIND COUNT READ-CMD...
  local name="$1" kind="$2" count="$3"; shift 3
  local store="$WORK/$name"
  echo "generating $count $kind events ..." >&2
  "$BUILD/bench/gen_hub" "$store" "$NEARBYTES_SECRET" "$kind" "$count"
  sync
  rm -rf "$store/.nearbytes"
  measure "$name: cold replay" "$count" "$NB" --store "$store" -q "$@"
  measure "$name: warm, nothing new" 0 "$NB" --store "$store" -q "$@"
  "$BUILD/bench/gen_hub" "$store" "$NEARBYTES_SECRET" "$kind" 100 2> /dev/null
  measure "$name: warm, 100 new events" 100 "$NB" --store "$store" -q "$@"
  measure "$name: chat --limit 50 (warm)" 0 "$NB" --store "$store" -q chat --limit 50
}

run_hub "mixed ${MIXED}" files "$MIXED" conflicts
run_hub "chat ${CHAT}" chat "$CHAT" chat --limit 50

printf '\nECDSA P-256 verify: %d/s per core x %d cores = %d/s (the limit)\n' "$VERIFY" "$CORES" "$LIMIT"
printf '%-40s %8s %9s %12s %10s\n' "run" "wall s" "RSS MiB" "events/s" "x limit"
for row in "${ROWS[@]}"; do
  IFS='|' read -r label wall rss events <<< "$row"
  if [[ $events -gt 100 ]]; then
    rate=$(echo "$events / $wall" | bc)
    ratio=$(echo "scale=2; $wall / ($events / $LIMIT)" | bc)
  else
    rate="-"; ratio="-"
  fi
  printf '%-40s %8s %9s %12s %10s\n' "$label" "$wall" "$rss" "$rate" "$ratio"
done
echo "(x limit: cold wall time over events/limit; a chat event also carries a record signature, so it costs two verifies)"
