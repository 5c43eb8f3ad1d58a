#!/usr/bin/env bash
# Folder-sync benchmark (issue 5): a hub with 10,000 files of 4 KiB and one
# 1 GiB file. First `nearbytes sync` into an empty folder and from it into an
# empty home, against `rsync -a` and `cp -r` of the same store tree; then a
# re-run with no change, and a re-run after one file changed. Then (issue 14)
# a generated hub of 100,000 events already in the folder: `nearbytes sync`
# with nothing new, NB_BENCH_RUNS times (default 5) alternating with rsync -a
# of the same store tree; the first of those runs lists both sides and
# remembers them (sync/folder_memory.h), so it has its own row. One table,
# then whether issue 14's target (faster than rsync -a, <= 0.1 s) is met.
#
#   NB_BENCH_BIG_MIB=256 NB_BENCH_SMALL_FILES=2000 NB_BENCH_HUB_EVENTS=20000 bench/sync_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NEARBYTES_BENCH_PEERS=1 scripts/setup.sh
scripts/build.sh
NB="$PWD/${NEARBYTES_BUILD_DIR:-build}/nearbytes"
BIG_MIB="${NB_BENCH_BIG_MIB:-1024}"
SMALL_FILES="${NB_BENCH_SMALL_FILES:-10000}"
HUB_EVENTS="${NB_BENCH_HUB_EVENTS:-100000}"
RUNS="${NB_BENCH_RUNS:-5}"
BUILD="$PWD/${NEARBYTES_BUILD_DIR:-build}"
WORK="$(mktemp -d "${NB_BENCH_DIR:-/var/tmp}/nbsync.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export NEARBYTES_SECRET='bench:sync benchmark secret'

echo "building the source hub in $WORK ..." >&2
mkdir -p "$WORK/data/small"
head -c "$((BIG_MIB * 1024 * 1024))" /dev/urandom > "$WORK/data/big.bin"
python3 - "$WORK/data/small" "$SMALL_FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(4096))
PY
NEARBYTES_HOME="$WORK/a" "$NB" hub create > /dev/null
NEARBYTES_HOME="$WORK/a" "$NB" -q put "$WORK/data" --to data
rm -rf "$WORK/data"
SRC="$WORK/a/store"
echo "  store: $(du -sh "$SRC" | cut -f1), $(find "$SRC" -type f | wc -l) files" >&2
sync

ROWS=()
measure() {
  local label="$1"; shift
  local tf="$WORK/time.txt"
  /usr/bin/time -f "%e %U %S %M" -o "$tf" "$@" > "$WORK/last.out" 2> "$WORK/last.err" || {
    local rc=$?; if [[ $rc -ne 0 && $rc -ne 1 ]]; then echo "FAILED: $label" >&2; cat "$WORK/last.err" >&2; return 1; fi; }
  read -r wall user sys rss < "$tf"
  ROWS+=("$label|$wall|$(echo "$user + $sys" | bc)|$((rss / 1024))|$wall")
}
# sample LABEL CMD...: one run of a repeated row; add_repeated LABEL adds
# its row (median wall and CPU, min wall).
declare -A WALLS CPUS RSSS
sample() {
  local label="$1"; shift
  local tf="$WORK/time.txt"
  /usr/bin/time -f "%e %U %S %M" -o "$tf" "$@" > "$WORK/last.out" 2> "$WORK/last.err" || {
    local rc=$?; if [[ $rc -ne 0 && $rc -ne 1 ]]; then echo "FAILED: $label" >&2; cat "$WORK/last.err" >&2; return 1; fi; }
  read -r wall user sys rss < "$tf"
  WALLS[$label]+="$wall "; CPUS[$label]+="$(echo "$user + $sys" | bc) "; RSSS[$label]=$((rss / 1024))
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -1; }
add_repeated() {
  local label="$1"
  ROWS+=("$label|$(echo "${WALLS[$label]}" | median)|$(echo "${CPUS[$label]}" | median)|${RSSS[$label]}|$(echo "${WALLS[$label]}" | minimum)")
}

measure "first: nearbytes sync -> empty folder" env NEARBYTES_HOME="$WORK/a" "$NB" -q sync --create "$WORK/stick"
measure "first: nearbytes sync folder -> empty home" env NEARBYTES_HOME="$WORK/b" "$NB" -q sync "$WORK/stick"
measure "first: rsync -a (store tree)" rsync -a "$SRC/" "$WORK/rsync-copy/"
measure "first: cp -r (floor)" cp -r "$SRC" "$WORK/cp-copy"
measure "no change: nearbytes sync" env NEARBYTES_HOME="$WORK/a" "$NB" -q sync "$WORK/stick"
measure "no change: rsync -a" rsync -a "$SRC/" "$WORK/rsync-copy/"
echo "changed one file" > "$WORK/one.txt"
NEARBYTES_HOME="$WORK/a" "$NB" -q put "$WORK/one.txt" --to data/small/d000/f00000.bin
measure "one changed: nearbytes sync" env NEARBYTES_HOME="$WORK/a" "$NB" -q sync "$WORK/stick"
measure "one changed: rsync -a" rsync -a "$SRC/" "$WORK/rsync-copy/"
NEARBYTES_HOME="$WORK/b" "$NB" -q sync "$WORK/stick"
NEARBYTES_HOME="$WORK/b" "$NB" verify > /dev/null
rm -rf "$WORK/rsync-copy" "$WORK/cp-copy"

# A 100k-event hub already in the folder, nothing new (issue 14).
echo "generating a hub of $HUB_EVENTS events ..." >&2
HUB="$WORK/hub/store"
"$BUILD/bench/gen_hub" "$HUB" "$NEARBYTES_SECRET" files "$HUB_EVENTS" 2> /dev/null
NEARBYTES_HOME="$WORK/hub" "$NB" --store "$HUB" -q sync --create "$WORK/hub-stick" > /dev/null
rsync -a "$HUB/" "$WORK/hub-rsync/"
sync
measure "${HUB_EVENTS} events, nothing new: nearbytes sync (lists, remembers)" \
  env NEARBYTES_HOME="$WORK/hub" "$NB" --store "$HUB" -q sync "$WORK/hub-stick"
for ((i = 1; i <= RUNS; i++)); do
  sample "${HUB_EVENTS} events, nothing new: nearbytes sync (x$RUNS)" \
    env NEARBYTES_HOME="$WORK/hub" "$NB" --store "$HUB" -q sync "$WORK/hub-stick"
  sample "${HUB_EVENTS} events, nothing new: rsync -a (x$RUNS)" rsync -a "$HUB/" "$WORK/hub-rsync/"
done
add_repeated "${HUB_EVENTS} events, nothing new: nearbytes sync (x$RUNS)"
add_repeated "${HUB_EVENTS} events, nothing new: rsync -a (x$RUNS)"

printf '\n%-62s %8s %8s %9s %8s %8s\n' "run (big=${BIG_MIB} MiB + ${SMALL_FILES}x4KiB)" "wall s" "CPU s" "RSS MiB" "x cp" "min s"
CP=""
for row in "${ROWS[@]}"; do IFS='|' read -r l w c r m <<< "$row"; [[ $l == "first: cp -r (floor)" ]] && CP=$w; done
for row in "${ROWS[@]}"; do
  IFS='|' read -r label wall cpu rss min <<< "$row"
  printf '%-62s %8s %8s %9s %8s %8s\n' "$label" "$wall" "$cpu" "$rss" "$(echo "scale=2; $wall / $CP" | bc)" "$min"
done
ours=$(echo "${WALLS["${HUB_EVENTS} events, nothing new: nearbytes sync (x$RUNS)"]}" | median)
theirs=$(echo "${WALLS["${HUB_EVENTS} events, nothing new: rsync -a (x$RUNS)"]}" | median)
met=missed
[[ $(echo "$ours < $theirs && $ours <= 0.1" | bc) == 1 ]] && met=met
printf '%s events, nothing new: nearbytes %s s vs rsync -a %s s (medians); target faster than rsync -a and <= 0.1 s: %s\n' \
  "$HUB_EVENTS" "$ours" "$theirs" "$met"
