#!/usr/bin/env bash
# Side-by-side ingest benchmark (issue 3): nearbytes put vs restic backup vs
# borg create vs cp -r, on one 1 GiB random file and on 10,000 files of
# 4 KiB. Prints one table: wall time, CPU time, peak RSS, and each row's
# wall-time ratio to ours ("x ours": >1 means the row is slower than ours).
#
# The small-file put and export (issue 14) are also run NB_BENCH_RUNS times
# (default 5), alternating with their floors in the same run: "2 x (cp -r +
# sync)" for put (the format writes two files per input file, durably) and
# cp -r for export; with them, `ls -r` right after the put that wrote the
# files and the same put again with nothing changed. Those rows show the
# median wall time and the minimum; the lines under the table give
# ours/floor (median and min) and whether issue 14's targets are met (put
# <= 1.1 x floor, export <= 1.5 x cp, ls -r <= 0.1 s, put again <= 0.15 s).
#
#   bench/files_bench.sh            # full sizes
#   NB_BENCH_BIG_MIB=256 NB_BENCH_SMALL_FILES=2000 bench/files_bench.sh   # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
NEARBYTES_BENCH_PEERS=1 scripts/setup.sh
scripts/build.sh
NB="$PWD/${NEARBYTES_BUILD_DIR:-build}/nearbytes"

BIG_MIB="${NB_BENCH_BIG_MIB:-1024}"
SMALL_FILES="${NB_BENCH_SMALL_FILES:-10000}"
RUNS="${NB_BENCH_RUNS:-5}"
WORK="$(mktemp -d "${NB_BENCH_DIR:-/var/tmp}/nbbench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_BASE_DIR="$WORK/borg-base"
export NEARBYTES_SECRET='bench:files benchmark secret'

echo "generating data in $WORK ..." >&2
mkdir -p "$WORK/data-big" "$WORK/data-small"
head -c "$((BIG_MIB * 1024 * 1024))" /dev/urandom > "$WORK/data-big/big.bin"
python3 - "$WORK/data-small" "$SMALL_FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(4096))
PY
sync

ROWS=()
# measure LABEL CMD... : runs CMD under /usr/bin/time, records wall/cpu/rss.
measure() {
  local label="$1"; shift
  local tf="$WORK/time.$$"
  /usr/bin/time -f "%e %U %S %M" -o "$tf" "$@" > "$WORK/last.out" 2> "$WORK/last.err" || {
    echo "FAILED: $label" >&2; cat "$WORK/last.err" >&2; return 1; }
  read -r wall user sys rss < "$tf"
  ROWS+=("$label|$wall|$(echo "$user + $sys" | bc)|$((rss / 1024))|$wall")
}

# sample LABEL CMD... : one run of a repeated row; walls/CPU/RSS collected
# per label, summed up by add_repeated.
declare -A WALLS CPUS RSSS
sample() {
  local label="$1"; shift
  local tf="$WORK/time.$$"
  /usr/bin/time -f "%e %U %S %M" -o "$tf" "$@" > "$WORK/last.out" 2> "$WORK/last.err" || {
    echo "FAILED: $label" >&2; cat "$WORK/last.err" >&2; return 1; }
  read -r wall user sys rss < "$tf"
  WALLS[$label]+="$wall "
  CPUS[$label]+="$(echo "$user + $sys" | bc) "
  RSSS[$label]=$((rss / 1024))
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
minimum() { tr ' ' '\n' | grep . | sort -g | head -1; }
# add_repeated LABEL [FACTOR]: a table row with the median wall (and CPU) and
# the min wall, each times FACTOR.
add_repeated() {
  local label="$1" factor="${2:-1}"
  local med min cpu
  med=$(echo "${WALLS[$label]}" | median); min=$(echo "${WALLS[$label]}" | minimum)
  cpu=$(echo "${CPUS[$label]}" | median)
  ROWS+=("$label|$(echo "$med * $factor" | bc)|$(echo "$cpu * $factor" | bc)|${RSSS[$label]}|$(echo "$min * $factor" | bc)")
}

for set in big small; do
  src="$WORK/data-$set"
  home="$WORK/nb-$set"
  NEARBYTES_HOME="$home" "$NB" hub create > /dev/null
  sync
  measure "$set: nearbytes put" env NEARBYTES_HOME="$home" "$NB" -q put "$src" --to data
  measure "$set: nearbytes put again (dedup)" env NEARBYTES_HOME="$home" "$NB" -q put "$src" --to data
  restic init -q -r "$WORK/restic-$set" > /dev/null
  measure "$set: restic backup" restic -q -r "$WORK/restic-$set" backup "$src"
  borg init -e repokey "$WORK/borg-$set" > /dev/null 2>&1
  measure "$set: borg create" borg create "$WORK/borg-$set::a" "$src"
  measure "$set: cp -r (floor)" cp -r "$src" "$WORK/cp-$set"
  if [[ $set == big ]]; then
    measure "big: nearbytes get" env NEARBYTES_HOME="$home" "$NB" -q get data/data-big/big.bin "$WORK/got.bin"
    cmp "$WORK/got.bin" "$src/big.bin"
    measure "big: restic restore" restic -q -r "$WORK/restic-$set" restore latest --target "$WORK/restic-out"
  else
    measure "small: nearbytes export" env NEARBYTES_HOME="$home" "$NB" -q export data/data-small "$WORK/exported"
    diff -r "$WORK/exported" "$src" > /dev/null
    # Repeated, alternating with the floors; every run writes to fresh
    # directories, removed right after it is measured.
    for ((i = 1; i <= RUNS; i++)); do
      h="$WORK/nb-put-$i"
      NEARBYTES_HOME="$h" "$NB" hub create > /dev/null
      sync
      sample "small: nearbytes put (x$RUNS)" env NEARBYTES_HOME="$h" "$NB" -q put "$src" --to data/
      # The command right after the put that wrote the files (its first call).
      sample "small: ls -r after the put (x$RUNS)" env NEARBYTES_HOME="$h" "$NB" -q ls -r
      sample "small: 2 x (cp -r + sync) (floor)" sh -c 'cp -r "$1" "$2" && sync' _ "$src" "$WORK/floor-$i"
      rm -rf "$WORK/floor-$i"
      sync
      # The same put again, nothing changed: the whole command.
      sample "small: put again, nothing new (x$RUNS)" env NEARBYTES_HOME="$h" "$NB" -q put "$src" --to data/
      sample "small: nearbytes export (x$RUNS)" env NEARBYTES_HOME="$h" "$NB" -q export data/data-small "$WORK/exp-$i"
      sample "small: cp -r (x$RUNS)" cp -r "$src" "$WORK/cpx-$i"
      diff -r "$WORK/exp-$i" "$src" > /dev/null
      rm -rf "$h" "$WORK/exp-$i" "$WORK/cpx-$i"
      sync
    done
    add_repeated "small: nearbytes put (x$RUNS)"
    add_repeated "small: ls -r after the put (x$RUNS)"
    add_repeated "small: put again, nothing new (x$RUNS)"
    add_repeated "small: 2 x (cp -r + sync) (floor)" 2
    add_repeated "small: nearbytes export (x$RUNS)"
    add_repeated "small: cp -r (x$RUNS)"
  fi
  echo "  $set: store size $(du -sh "$home/store" | cut -f1), restic $(du -sh "$WORK/restic-$set" | cut -f1), borg $(du -sh "$WORK/borg-$set" | cut -f1)" >&2
  rm -rf "$WORK/cp-$set" "$WORK/restic-out" "$WORK/got.bin" "$WORK/exported"
done

printf '\n%-36s %9s %9s %10s %9s %9s\n' "run (big=${BIG_MIB} MiB, small=${SMALL_FILES}x4KiB)" "wall s" "CPU s" "RSS MiB" "x ours" "min s"
declare -A OURS
for row in "${ROWS[@]}"; do
  IFS='|' read -r label wall cpu rss min <<< "$row"
  set="${label%%:*}"
  [[ $label == "$set: nearbytes put" ]] && OURS[$set]=$wall
done
for row in "${ROWS[@]}"; do
  IFS='|' read -r label wall cpu rss min <<< "$row"
  set="${label%%:*}"
  ratio=$(echo "scale=2; $wall / ${OURS[$set]}" | bc)
  printf '%-36s %9s %9s %10s %9s %9s\n' "$label" "$wall" "$cpu" "$rss" "$ratio" "$min"
done
# Issue 14's targets, from the repeated rows (median; min in brackets).
row_of() { for row in "${ROWS[@]}"; do [[ $row == "$1|"* ]] && echo "$row"; done; }
IFS='|' read -r _ put_med _ _ put_min <<< "$(row_of "small: nearbytes put (x$RUNS)")"
IFS='|' read -r _ floor_med _ _ floor_min <<< "$(row_of "small: 2 x (cp -r + sync) (floor)")"
IFS='|' read -r _ exp_med _ _ exp_min <<< "$(row_of "small: nearbytes export (x$RUNS)")"
IFS='|' read -r _ cp_med _ _ cp_min <<< "$(row_of "small: cp -r (x$RUNS)")"
verdict() { [[ $(echo "$1 <= $2" | bc) == 1 ]] && echo met || echo missed; }
put_ratio=$(echo "scale=2; $put_med / $floor_med" | bc)
exp_ratio=$(echo "scale=2; $exp_med / $cp_med" | bc)
printf 'put %sx4KiB / floor 2 x (cp -r + sync): %s (min/min %s); target <= 1.10: %s\n' "$SMALL_FILES" \
  "$put_ratio" "$(echo "scale=2; $put_min / $floor_min" | bc)" "$(verdict "$put_ratio" 1.10)"
printf 'export %sx4KiB / cp -r: %s (min/min %s); target <= 1.50: %s\n' "$SMALL_FILES" \
  "$exp_ratio" "$(echo "scale=2; $exp_min / $cp_min" | bc)" "$(verdict "$exp_ratio" 1.50)"
IFS='|' read -r _ ls_med _ _ ls_min <<< "$(row_of "small: ls -r after the put (x$RUNS)")"
IFS='|' read -r _ again_med _ _ again_min <<< "$(row_of "small: put again, nothing new (x$RUNS)")"
printf 'ls -r of %s files right after their put: %s s (min %s); target <= 0.10 s: %s\n' \
  "$SMALL_FILES" "$ls_med" "$ls_min" "$(verdict "$ls_med" 0.10)"
printf 'put again, nothing changed (%s files): %s s (min %s); target <= 0.15 s: %s\n' \
  "$SMALL_FILES" "$again_med" "$again_min" "$(verdict "$again_med" 0.15)"
