#!/usr/bin/env bash
# Runs every benchmark script of bench/ one after the other and writes one
# Markdown report: the machine first (CPU model, cores, memory, the disk the
# benchmarks write to, kernel), then each script's table as it printed it,
# with how long the script took. Each script measures its peers (restic,
# borg, cp, rsync, syncthing, the ECDSA limit) in the same run as ours.
#
#   bench/all.sh                              # everything, full sizes (about an hour)
#   NB_BENCH_ONLY="files replay" bench/all.sh # some scripts only
#   NB_BENCH_REPORT=report.md bench/all.sh    # where the report goes
#
# The scripts' own size knobs (NB_BENCH_SMALL_FILES, NB_BENCH_MIXED, ...)
# pass through. Nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
ONLY=" ${NB_BENCH_ONLY:-crypto files sync replay daemon} "
REPORT="${NB_BENCH_REPORT:-bench/report-$(date -u +%Y%m%d-%H%M%S).md}"
BENCH_DIR="${NB_BENCH_DIR:-/var/tmp}"

NEARBYTES_BENCH_PEERS=1 scripts/setup.sh
scripts/build.sh

{
  echo "# Nearbytes benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "Commit \`$(git rev-parse --short HEAD 2> /dev/null || echo unknown)\`$(git diff --quiet 2> /dev/null || echo ' (with uncommitted changes)')."
  echo
  echo "| machine | |"
  echo "| --- | --- |"
  echo "| CPU | $(lscpu | sed -n 's/^Model name: *//p' | head -1) |"
  echo "| cores | $(nproc) online ($(lscpu | sed -n 's/^Thread(s) per core: *//p') thread(s) per core) |"
  echo "| memory | $(free -g | awk '/^Mem:/ {print $2 " GiB"}') |"
  device="$(df --output=source "$BENCH_DIR" | tail -1)"
  echo "| disk (${BENCH_DIR}) | $(df -hT "$BENCH_DIR" | awk 'NR == 2 {print $1 ", " $2 ", " $3 " total, " $5 " free"}')$(lsblk -dno ROTA,MODEL "$device" 2> /dev/null | awk '{$1 = ($1 == 1 ? "reports rotating" : "reports solid state"); print ", " $0}') |"
  echo "| kernel | $(uname -sr) |"
  echo "| OS | $(. /etc/os-release && echo "$PRETTY_NAME") |"
  echo
} > "$REPORT"

run() {  # NAME SCRIPT: runs it, appends its table (stdout) to the report
  local name="$1" script="$2"
  [[ $ONLY == *" $name "* ]] || return 0
  echo "== $script ==" >&2
  local out start end status=0
  out="$(mktemp)"
  start=$(date +%s)
  NB_BENCH_SKIP_BUILD=1 "$script" > "$out" || status=$?
  end=$(date +%s)
  {
    echo "## $name: \`$script\` ($((end - start)) s$( ((status)) && echo ", FAILED with status $status"))"
    echo
    echo '```'
    cat "$out"
    echo '```'
    echo
  } >> "$REPORT"
  cat "$out"
  rm -f "$out"
}

run crypto bench/crypto.sh
run files bench/files_bench.sh
run sync bench/sync_bench.sh
run replay bench/replay_bench.sh
run daemon bench/daemon_bench.sh

echo "report: $REPORT" >&2
