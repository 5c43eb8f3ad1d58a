#!/usr/bin/env bash
# Live-sync benchmark (issue 11): two `nearbytes serve` daemons over loopback
# against two syncthing instances and against `rsync -a` over ssh to
# 127.0.0.1, on one 1 GiB random file, on 10,000 files of 4 KiB in 100
# directories, and on one changed small file. Timed as a user feels it: from
# the moment the data is on A's disk until B can read all of it.
#
#   ours:      `nearbytes put` into A while both daemons run, until B's store
#              holds every event and block file A's holds (end to end), and
#              from the end of the put (transfer alone);
#   syncthing: POST /rest/db/scan on A, until B's database has every file
#              (it counts a file only once it is complete on disk) and needs
#              nothing, and, for the change, the new bytes are in B's folder;
#   rsync:     the `rsync -a -e ssh` command itself, to our own sshd.
# Then the live message latency (`say` on A, `chat --follow` on B) and the
# reconciliation of 1,000,000 vs 1,000,010 events. One table; min and median
# of NB_BENCH_RUNS runs, CPU (user+sys) and peak RSS of both sides.
#
#   bench/daemon_bench.sh                                    # full sizes, 3 runs
#   NB_BENCH_BIG_MIB=64 NB_BENCH_SMALL_FILES=500 NB_BENCH_RUNS=1 bench/daemon_bench.sh
#   NB_BENCH_TOOLS="syncthing rsync" bench/daemon_bench.sh   # only some of them
set -euo pipefail
cd "$(dirname "$0")/.."
NEARBYTES_BENCH_PEERS=1 scripts/setup.sh
[[ "${NB_BENCH_SKIP_BUILD:-0}" == 1 ]] || scripts/build.sh
NB="$PWD/${NEARBYTES_BUILD_DIR:-build}/nearbytes"
NEGENTROPY_BENCH="$PWD/${NEARBYTES_BUILD_DIR:-build}/bench/negentropy_bench"
HELPER=(python3 -B "$PWD/bench/daemon_bench.py")

BIG_MIB="${NB_BENCH_BIG_MIB:-1024}"
SMALL_FILES="${NB_BENCH_SMALL_FILES:-10000}"
RUNS="${NB_BENCH_RUNS:-3}"
CASE_TIMEOUT="${NB_BENCH_CASE_TIMEOUT_S:-600}"
LIVE_MESSAGES="${NB_BENCH_LIVE_MESSAGES:-50}"
TOOLS=" ${NB_BENCH_TOOLS:-ours syncthing rsync} "
WORK="$(mktemp -d "${NB_BENCH_DIR:-/var/tmp}/nbdaemon.XXXXXX")"
TICK="$(getconf CLK_TCK)"
# A strong random secret (a weak one draws a warning), the same for A and B.
NEARBYTES_SECRET="bench:$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export NEARBYTES_SECRET
export STNORESTART=1 STNOUPGRADE=1 STNODEFAULTFOLDER=1

STARTED=()           # every background process this script started
MADE_PRIVSEP_DIR=0   # sshd needs /run/sshd; removed again if we made it
cleanup() {
  local pid
  # sshd runs under /usr/bin/time: signal it itself (its pid file exists only while it runs).
  if [[ -s ${SSH_DIR:-}/sshd.pid ]]; then kill -TERM "$(< "$SSH_DIR/sshd.pid")" 2> /dev/null || true; fi
  for pid in "${STARTED[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${STARTED[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$WORK"
  if ((MADE_PRIVSEP_DIR)); then rmdir /run/sshd 2> /dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM

# ------------------------------------------------------------------ results
declare -A R          # "case|tool|field" -> space-separated values, one per run
add() { R["$1"]+="$2 "; }
fail() {              # fail CASE TOOL REASON: a FAILED row instead of figures
  echo "FAILED: $1 $2: $3" >&2
  R["$1|$2|failed"]="$3"
}

# ------------------------------------------------- per-process CPU and peak RSS
# For long-running processes (daemons, syncthing) /usr/bin/time cannot see a
# single case, so: utime+stime from /proc/PID/stat before and after, and the
# peak RSS reset (echo 5 > /proc/PID/clear_refs) before and read (VmHWM)
# after. Both cover all threads of the process.
cpu_ticks() {
  local s
  s="$(< "/proc/$1/stat")"
  s="${s##*) }"
  local -a f
  read -r -a f <<< "$s"
  echo $((f[11] + f[12]))
}
reset_peak() { echo 5 > "/proc/$1/clear_refs"; }
peak_mib() { awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$1/status"; }
ticks_s() { echo "scale=2; $1 / $TICK" | bc; }

# forget_pid PID: reaped, so the exit trap must not signal that number again.
forget_pid() {
  local kept=() p
  for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || kept+=("$p"); done
  STARTED=("${kept[@]}")
}

# stop_pid PID: SIGTERM, then SIGKILL after 10 s.
stop_pid() {
  local pid="$1" i
  [[ -n $pid ]] || return 0
  if kill -TERM "$pid" 2> /dev/null; then
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2> /dev/null; then
      echo "process $pid ignored SIGTERM for 10 s; killing it" >&2
      kill -KILL "$pid" 2> /dev/null || true
    fi
  fi
  wait "$pid" 2> /dev/null || true
  forget_pid "$pid"
}

# ------------------------------------------------------------------ the data
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "generating data in $WORK ..." >&2
mkdir -p "$WORK/src/big" "$WORK/src/small"
head -c "$((BIG_MIB * 1024 * 1024))" /dev/urandom > "$WORK/src/big/big.bin"
python3 - "$WORK/src/small" "$SMALL_FILES" << 'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(4096))
PY
BIG_BYTES=$((BIG_MIB * 1024 * 1024))
SMALL_BYTES=$((SMALL_FILES * 4096))
CHANGED_REL="d000/f00000.bin"
sync

# ================================================================= syncthing
# Two instances, each with its own home (keys, config, database). Global and
# local discovery, relays, NAT traversal, usage and crash reporting and
# upgrades are off; each listens on an explicit 127.0.0.1 port and knows the
# other's; one folder "bench" shared by both, no filesystem watcher (the
# rescan is what we time). Configured by editing config.xml before the first
# start (syncthing 1.19 reads it at start-up), driven through its REST API.
ST_A="" ST_B="" NB_A="" NB_B=""
ST_KEY="nbbench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
st_pair_start() {
  ST_DIR="$WORK/st" ST_A="" ST_B=""
  local s
  for s in a b; do
    mkdir -p "$ST_DIR/$s/folder/.stfolder"
    syncthing generate --home="$ST_DIR/$s/home" --no-default-folder > "$ST_DIR/$s/generate.log" 2>&1 || return 1
  done
  ST_PA="$("${HELPER[@]}" free-port)" ST_PB="$("${HELPER[@]}" free-port)"
  ST_GA="$("${HELPER[@]}" free-port)" ST_GB="$("${HELPER[@]}" free-port)"
  local ids
  ids="$("${HELPER[@]}" st-config "$ST_DIR/a/home" "$ST_DIR/b/home" "$ST_PA" "$ST_PB" "$ST_GA" "$ST_GB" \
    "$ST_KEY" "$ST_DIR/a/folder" "$ST_DIR/b/folder")" || return 1
  ST_ID_B="${ids#* }"
  syncthing serve --home="$ST_DIR/a/home" --no-browser --no-restart --no-upgrade --skip-port-probing \
    --logflags=3 > "$ST_DIR/a/syncthing.log" 2>&1 &
  ST_A=$!
  STARTED+=("$ST_A")
  syncthing serve --home="$ST_DIR/b/home" --no-browser --no-restart --no-upgrade --skip-port-probing \
    --logflags=3 > "$ST_DIR/b/syncthing.log" 2>&1 &
  ST_B=$!
  STARTED+=("$ST_B")
  "${HELPER[@]}" st-ready "$ST_GA" "$ST_GB" "$ST_KEY" "$ST_ID_B" 60 > /dev/null || return 1
  # syncthing 1.19 runs as a monitor process and a worker child even with
  # --no-restart: CPU and memory are the worker's.
  ST_WA="$(pgrep -P "$ST_A" -x syncthing || echo "$ST_A")"
  ST_WB="$(pgrep -P "$ST_B" -x syncthing || echo "$ST_B")"
}
st_pair_stop() {
  stop_pid "$ST_A"
  stop_pid "$ST_B"
  rm -rf "$ST_DIR"
}

# st_measure CASE FILES BYTES CHANGED_A CHANGED_B
st_measure() {
  local case="$1" out a0 b0
  reset_peak "$ST_WA"
  reset_peak "$ST_WB"
  a0="$(cpu_ticks "$ST_WA")" b0="$(cpu_ticks "$ST_WB")"
  if ! out="$("${HELPER[@]}" st-case "$ST_GA" "$ST_GB" "$ST_KEY" "$2" "$3" "$4" "$5" "$CASE_TIMEOUT" \
    "${NB_BENCH_ST_WAIT:-events}")"; then
    fail "$case" syncthing "$out"
    return 1
  fi
  add "$case|syncthing|time" "$out"
  add "$case|syncthing|cpu_a" "$(ticks_s $(($(cpu_ticks "$ST_WA") - a0)))"
  add "$case|syncthing|cpu_b" "$(ticks_s $(($(cpu_ticks "$ST_WB") - b0)))"
  add "$case|syncthing|rss_a" "$(peak_mib "$ST_WA")"
  add "$case|syncthing|rss_b" "$(peak_mib "$ST_WB")"
  if ! diff -r -x .stfolder -x .stversions "$ST_DIR/a/folder" "$ST_DIR/b/folder" > /dev/null; then
    fail "$case" syncthing "B's folder differs from A's"
    return 1
  fi
}

run_syncthing() {  # run_syncthing big|small
  if ! st_pair_start; then
    fail "$1" syncthing "the two instances did not start and connect (logs: $ST_DIR)"
    st_pair_stop
    return 0
  fi
  if [[ $1 == big ]]; then
    cp -a "$WORK/src/big/." "$ST_DIR/a/folder/"
    sync
    st_measure big 1 "$BIG_BYTES" - - || true
  else
    cp -a "$WORK/src/small/." "$ST_DIR/a/folder/"
    sync
    if st_measure small "$SMALL_FILES" "$SMALL_BYTES" - -; then
      head -c 4096 /dev/urandom > "$ST_DIR/a/folder/$CHANGED_REL"
      sync
      st_measure change "$SMALL_FILES" "$SMALL_BYTES" "$ST_DIR/a/folder/$CHANGED_REL" \
        "$ST_DIR/b/folder/$CHANGED_REL" || true
    else
      fail change syncthing "skipped: the small set did not sync"
    fi
  fi
  st_pair_stop
}

# ================================================================ rsync / ssh
# Our own sshd on a free loopback port: its own config file (the system's
# sshd_config and ssh_config are not read), its own host key, one authorized
# key, all in $WORK/ssh. It is started for each measured rsync under
# /usr/bin/time and stopped right after, so that B's CPU and peak RSS are
# those of sshd, its session process and the remote rsync (all its reaped
# descendants); A's are those of rsync and its ssh child.
SSH_DIR="$WORK/ssh"
ssh_setup() {
  mkdir -p "$SSH_DIR"
  chmod 700 "$SSH_DIR"
  ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/client_key"
  cp "$SSH_DIR/client_key.pub" "$SSH_DIR/authorized_keys"
  SSH_PORT="$("${HELPER[@]}" free-port)"
  cat > "$SSH_DIR/sshd_config" << EOF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $SSH_DIR/host_key
PidFile $SSH_DIR/sshd.pid
AuthorizedKeysFile $SSH_DIR/authorized_keys
AllowUsers $(id -un)
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
LogLevel ERROR
SetEnv HOME=$SSH_DIR/home
EOF
  # The remote shell reads $HOME/.bashrc (Debian's bash does so under sshd);
  # an empty home keeps a developer's shell set-up (here: pyenv init, 2 s)
  # out of rsync's time, as for a plain account on another machine.
  mkdir -p "$SSH_DIR/home"
  if [[ ! -d /run/sshd ]]; then
    mkdir -m 0755 /run/sshd
    MADE_PRIVSEP_DIR=1
  fi
  SSH_CMD="ssh -F none -p $SSH_PORT -i $SSH_DIR/client_key -o BatchMode=yes -o StrictHostKeyChecking=no"
  SSH_CMD+=" -o UserKnownHostsFile=$SSH_DIR/known_hosts"
}

# rsync_measure CASE SRC DST
rsync_measure() {
  local case="$1" src="$2" dst="$3" tp sshd_pid i wall user sys rss
  rm -f "$SSH_DIR/sshd.pid"
  /usr/bin/time -f "%e %U %S %M" -o "$SSH_DIR/sshd.time" /usr/sbin/sshd -D -e -f "$SSH_DIR/sshd_config" \
    2>> "$SSH_DIR/sshd.log" &
  tp=$!
  STARTED+=("$tp")
  for ((i = 0; i < 200; i++)); do [[ -s $SSH_DIR/sshd.pid ]] && break; sleep 0.05; done
  if [[ ! -s $SSH_DIR/sshd.pid ]]; then
    fail "$case" rsync "sshd did not start: $(tail -3 "$SSH_DIR/sshd.log")"
    stop_pid "$tp"
    return 1
  fi
  sshd_pid="$(< "$SSH_DIR/sshd.pid")"
  local ok=1
  timeout "$CASE_TIMEOUT" /usr/bin/time -f "%e %U %S %M" -o "$WORK/rsync.time" \
    rsync -a -e "$SSH_CMD" "$src/" "$(id -un)@127.0.0.1:$dst/" > "$WORK/rsync.out" 2>&1 || ok=0
  # Let sshd reap its session (and so account for it), then stop it.
  for ((i = 0; i < 100; i++)); do pgrep -P "$sshd_pid" > /dev/null || break; sleep 0.05; done
  kill -TERM "$sshd_pid" 2> /dev/null || true
  wait "$tp" 2> /dev/null || true
  forget_pid "$tp"
  rm -f "$SSH_DIR/sshd.pid"
  if ((!ok)); then
    fail "$case" rsync "$(tail -3 "$WORK/rsync.out")"
    return 1
  fi
  read -r wall user sys rss < <(tail -1 "$WORK/rsync.time")
  add "$case|rsync|time" "$wall"
  add "$case|rsync|cpu_a" "$(echo "$user + $sys" | bc)"
  add "$case|rsync|rss_a" "$((rss / 1024))"
  read -r wall user sys rss < <(tail -1 "$SSH_DIR/sshd.time")
  add "$case|rsync|cpu_b" "$(echo "$user + $sys" | bc)"
  add "$case|rsync|rss_b" "$((rss / 1024))"
  if ! diff -r "$src" "$dst" > /dev/null; then
    fail "$case" rsync "the copy differs from the source"
    return 1
  fi
}

run_rsync() {  # run_rsync big|small
  local dst="$WORK/rsync-dst"
  rm -rf "$dst"
  if [[ $1 == big ]]; then
    rsync_measure big "$WORK/src/big" "$dst" || true
  else
    if rsync_measure small "$WORK/src/small" "$dst"; then
      head -c 4096 /dev/urandom > "$WORK/src/small/$CHANGED_REL"
      sync
      rsync_measure change "$WORK/src/small" "$dst" || true
    else
      fail change rsync "skipped: the small set did not copy"
    fi
  fi
  rm -rf "$dst"
}

# ====================================================================== ours
# Two homes with the same secret (so the same hub), two daemons kept to
# loopback, B dialling A. Both daemons' CPU and peak RSS from /proc as for
# syncthing; A's side also counts the `put` process (/usr/bin/time): CPU
# added, RSS the larger of the two.
nb_pair_start() {
  NB_DIR="$WORK/nb" NB_A="" NB_B=""
  local s i
  for s in a b; do
    mkdir -p "$NB_DIR/$s"
    NEARBYTES_HOME="$NB_DIR/$s/home" "$NB" hub create > /dev/null || return 1
  done
  HUB="$(NEARBYTES_HOME="$NB_DIR/a/home" "$NB" --json hub info \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')" || return 1
  NB_PA="$("${HELPER[@]}" free-port)" NB_PB="$("${HELPER[@]}" free-port)"
  NEARBYTES_OFFLINE=1 NEARBYTES_HOME="$NB_DIR/a/home" "$NB" serve --listen "127.0.0.1:$NB_PA" 2> "$NB_DIR/a.log" &
  NB_A=$!
  STARTED+=("$NB_A")
  NEARBYTES_OFFLINE=1 NEARBYTES_HOME="$NB_DIR/b/home" "$NB" serve --listen "127.0.0.1:$NB_PB" 2> "$NB_DIR/b.log" &
  NB_B=$!
  STARTED+=("$NB_B")
  for s in a b; do
    for ((i = 0; i < 200; i++)); do
      NEARBYTES_HOME="$NB_DIR/$s/home" "$NB" status > /dev/null 2>&1 && break
      sleep 0.05
    done
  done
  NEARBYTES_HOME="$NB_DIR/b/home" "$NB" peers add "127.0.0.1:$NB_PA" > /dev/null || return 1
  "${HELPER[@]}" nb-wait-connected "$NB" "$NB_DIR/b/home" 60 > /dev/null
}
nb_pair_stop() {
  stop_pid "$NB_A"
  stop_pid "$NB_B"
}

# nb_measure CASE SOURCE HUB_PATH
nb_measure() {
  local case="$1" out a0 b0 wall user sys rss peak_a
  reset_peak "$NB_A"
  reset_peak "$NB_B"
  a0="$(cpu_ticks "$NB_A")" b0="$(cpu_ticks "$NB_B")"
  if ! out="$("${HELPER[@]}" nb-case "$NB_DIR/a/home" "$NB_DIR/b/home" "$HUB" "$CASE_TIMEOUT" \
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/put.time" \
    env NEARBYTES_HOME="$NB_DIR/a/home" "$NB" -q put "$2" --to "$3")"; then
    fail "$case" ours "$out"
    return 1
  fi
  read -r wall user sys rss < <(tail -1 "$WORK/put.time")
  add "$case|ours|time" "${out% *}"
  add "$case|ours-transfer|time" "${out#* }"
  add "$case|ours|cpu_a" "$(echo "$(ticks_s $(($(cpu_ticks "$NB_A") - a0))) + $user + $sys" | bc)"
  add "$case|ours|cpu_b" "$(ticks_s $(($(cpu_ticks "$NB_B") - b0)))"
  peak_a="$(peak_mib "$NB_A")"
  add "$case|ours|rss_a" "$((peak_a > rss / 1024 ? peak_a : rss / 1024))"
  add "$case|ours|rss_b" "$(peak_mib "$NB_B")"
}

# nb_check CASE SOURCE_DIR: outside the timing, B's copy equals the source and B's store verifies.
nb_check() {
  if [[ -n ${R[$1|ours|failed]:-} ]]; then return 0; fi
  rm -rf "$NB_DIR/export"
  if ! NEARBYTES_HOME="$NB_DIR/b/home" "$NB" -q export data "$NB_DIR/export" > /dev/null 2>&1 \
    || ! diff -r "$NB_DIR/export" "$2" > /dev/null; then
    fail "$1" ours "B's export of data/ differs from the source"
  elif ! NEARBYTES_HOME="$NB_DIR/b/home" "$NB" verify > /dev/null 2>&1; then
    fail "$1" ours "nearbytes verify failed on B"
  fi
  rm -rf "$NB_DIR/export"
}

run_ours() {  # run_ours big|small
  if ! nb_pair_start; then
    fail "$1" ours "the two daemons did not start and connect"
    if [[ $1 == small ]]; then fail change ours "skipped: the daemons did not connect"; fi
    tail -n 5 "$NB_DIR/a.log" "$NB_DIR/b.log" >&2 || true
    nb_pair_stop
    rm -rf "$NB_DIR"
    return 0
  fi
  if [[ $1 == big ]]; then
    nb_measure big "$WORK/src/big" data || true
    nb_pair_stop
    nb_check big "$WORK/src/big"
  else
    if nb_measure small "$WORK/src/small" data; then
      head -c 4096 /dev/urandom > "$WORK/src/small/$CHANGED_REL"
      sync
      nb_measure change "$WORK/src/small/$CHANGED_REL" "data/$CHANGED_REL" || true
    else
      fail change ours "skipped: the small set did not sync"
    fi
    nb_pair_stop
    nb_check change "$WORK/src/small"
  fi
  rm -rf "$NB_DIR"
}

run_live() {
  if ! nb_pair_start; then
    fail live ours "the two daemons did not start and connect"
  else
    local out
    if out="$("${HELPER[@]}" nb-live "$NB" "$NB_DIR/a/home" "$NB_DIR/b/home" "$LIVE_MESSAGES" 120)"; then
      LIVE="$out"
    else
      fail live ours "$out"
    fi
  fi
  nb_pair_stop
  rm -rf "$NB_DIR"
}

# ====================================================================== runs
OURS_OK=0
if [[ $TOOLS == *" ours "* ]]; then
  if "$NB" serve --help > /dev/null 2>&1; then
    OURS_OK=1
  else
    echo "SKIPPED ours: \`nearbytes serve --help\` fails (no daemon in this build)" >&2
  fi
fi
if [[ $TOOLS == *" rsync "* ]]; then ssh_setup; fi

for set in big small; do
  for ((run = 1; run <= RUNS; run++)); do
    echo "run $run/$RUNS, $set set ..." >&2
    if [[ $TOOLS == *" syncthing "* ]]; then run_syncthing "$set"; fi
    if [[ $TOOLS == *" rsync "* ]]; then run_rsync "$set"; fi
    if ((OURS_OK)); then run_ours "$set"; fi
  done
  # Big data goes as soon as it is measured.
  if [[ $set == big ]]; then rm -rf "$WORK/src/big"; fi
done
LIVE=""
if ((OURS_OK)); then run_live; fi

# ============================================================ reconciliation
# TODO(issue 11, negentropy helper): build/bench/negentropy_bench reconciles
# 1,000,000 vs 1,000,010 event hashes and prints round trips, bytes and ms.
# Until it exists this section prints that it is missing; no figure is made up.
RECON="not measured: $NEGENTROPY_BENCH is not built yet"
if [[ -x $NEGENTROPY_BENCH ]]; then
  if RECON_OUT="$(timeout 600 "$NEGENTROPY_BENCH" 2>&1)"; then
    RECON="$(printf '%s\n' "$RECON_OUT" | tail -5)"
  else
    RECON="FAILED: $(printf '%s\n' "$RECON_OUT" | tail -3)"
  fi
fi

# ===================================================================== table
stat2() {  # stat2 VALUES: "min median" of the values, or "- -"
  [[ -n ${1// /} ]] || { echo "- -"; return; }
  # shellcheck disable=SC2086
  "${HELPER[@]}" stats $1
}
median() { [[ -n ${1// /} ]] && { read -r _ m < <(stat2 "$1"); echo "$m"; } || echo "-"; }
maxof() { [[ -n ${1// /} ]] && tr ' ' '\n' <<< "$1" | sort -g | tail -1 || echo "-"; }

row() {  # row CASE TOOL LABEL TARGET
  local key="$1|$2"
  if [[ -n ${R[$key|failed]:-} ]]; then
    printf '%-14s %-22s %s\n' "$1" "$3" "FAILED (${R[$key|failed]})"
    return
  fi
  if [[ $2 == ours-transfer && -n ${R[$1|ours|failed]:-} ]]; then
    printf '%-14s %-22s %s\n' "$1" "$3" "FAILED (see end to end)"
    return
  fi
  local min med
  read -r min med < <(stat2 "${R[$key|time]:-}")
  printf '%-14s %-22s %8s %8s %7s %7s %7s %7s  %s\n' "$1" "$3" "$min" "$med" \
    "$(median "${R[$key|cpu_a]:-}")" "$(median "${R[$key|cpu_b]:-}")" \
    "$(maxof "${R[$key|rss_a]:-}")" "$(maxof "${R[$key|rss_b]:-}")" "$4"
}
target() {  # target CASE OURS_KEY OTHER_TOOL: "< other median: MET/MISSED"
  local ours other
  ours="$(median "${R[$1|$2|time]:-}")" other="$(median "${R[$1|$3|time]:-}")"
  if [[ $ours == - || $other == - ]]; then echo "target < $3"; return; fi
  if (($(echo "$ours < $other" | bc))); then echo "target < $3 $other: MET"; else echo "target < $3 $other: MISSED"; fi
}

echo
echo "big = ${BIG_MIB} MiB random file; small = ${SMALL_FILES} x 4 KiB in $(((SMALL_FILES + 99) / 100)) dirs;" \
  "change = one 4 KiB file rewritten; ${RUNS} run(s) each"
echo "$(nproc) CPUs; load average at start ${LOAD_START}, at end $(cut -d' ' -f1-3 /proc/loadavg)" \
  "(other work on the machine slows every row alike)"
printf '%-14s %-22s %8s %8s %7s %7s %7s %7s  %s\n' case tool "min s" "median s" "CPU A" "CPU B" "RSS A" "RSS B" target
for case in big small change; do
  if [[ $TOOLS == *" syncthing "* ]]; then row "$case" syncthing "syncthing (rescan->B)" ""; fi
  if [[ $TOOLS == *" rsync "* ]]; then row "$case" rsync "rsync -a over ssh" ""; fi
  if [[ $TOOLS == *" ours "* ]]; then
    if ((OURS_OK)); then
      row "$case" ours "ours end to end" "$(target "$case" ours syncthing)"
      row "$case" ours-transfer "ours transfer alone" "$(target "$case" ours-transfer rsync)"
    else
      printf '%-14s %-22s %s\n' "$case" ours "SKIPPED (nearbytes serve not available)"
    fi
  fi
done
if ((OURS_OK)); then
  if [[ -n ${R[live|ours|failed]:-} ]]; then
    printf '%-14s %-22s %s\n' live "ours say -> chat -f" "FAILED (${R[live|ours|failed]})"
  elif [[ -n $LIVE ]]; then
    read -r p50r p99r p50s p99s say_ms <<< "$LIVE"
    met=MISSED
    if (($(echo "$p50r < 50" | bc))); then met=MET; fi
    printf '%-14s %-22s p50 %s ms, p99 %s ms after say returned (%s / %s ms after it started; say itself %s ms)  target p50 < 50 ms: %s\n' \
      "live x$LIVE_MESSAGES" "ours say -> chat -f" "$p50r" "$p99r" "$p50s" "$p99s" "$say_ms" "$met"
  fi
fi
printf '%-14s %s\n' "reconcile" "1,000,000 vs 1,000,010 events (target < 1 s, < 100 KB):"
printf '%s\n' "$RECON" | sed 's/^/               /'
cat << 'EOF'

Times in seconds, from the data on A's disk until B can read all of it (rsync:
the command itself). CPU = user+sys seconds (median over runs), RSS = peak MiB
(largest over runs). Daemons and syncthing: /proc/PID/stat utime+stime before
and after the case, VmHWM after resetting it with /proc/PID/clear_refs (all
threads); ours A also counts the put process (/usr/bin/time). rsync: A =
rsync + its ssh (/usr/bin/time), B = our sshd with its session and the
remote rsync (/usr/bin/time around a per-run sshd). Live: p50/p99 by nearest
rank (with 50 messages p99 is the slowest), B's line printed minus A's say
(its end: the event is on A's disk; it can be negative when say's exit is
slower than the trip; from its start it includes say's own run time).
EOF
