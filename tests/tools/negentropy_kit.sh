#!/usr/bin/env bash
# Runs one case of the negentropy conformance kit against our harness.
#   negentropy_kit.sh <kit dir> <harness> fuzz <lang1> <lang2> [VAR=value...]
#       one fuzz.pl run (lang1 initiates); passes only on exit 0 and the OK line.
#       ZERO_TS_RECS=n: instead of fuzz.pl's random timestamps, two sets of about
#       n ids with timestamp 0 (as Nearbytes uses), one in 50 on one side only.
#   negentropy_kit.sh <kit dir> <harness> delta [VAR=value...]
#       fuzz.pl js js and fuzz.pl ours ours on the same sets: every message
#       (DELTATRACE) must be byte-for-byte the same.
#   negentropy_kit.sh <kit dir> <harness> all
#       the whole test.pl (interop, byte-for-byte DELTATRACE against JS, version
#       negotiation), run in a private copy of the kit (it writes a log file).
set -euo pipefail
kit=$1 harness=$2 what=$3
shift 3
for tool in perl node; do
  command -v "$tool" >/dev/null || { echo "negentropy kit: $tool is missing (scripts/setup.sh)"; exit 1; }
done
perl -MSession::Token -e1 2>/dev/null ||
  { echo "negentropy kit: Session::Token is missing (libsession-token-perl, scripts/setup.sh)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$kit/." "$work/"
rm -f "$work/test/negent-test.log"
cd "$work/test"
export NEGENTROPY_HARNESS="$harness"

if [[ "$what" == all ]]; then
  if perl test.pl ours,js; then
    echo "test.pl: all passed"
  else
    tail -40 negent-test.log
    echo "test.pl failed"
    exit 1
  fi
  exit 0
fi

if [[ "$what" == delta ]]; then
  lang1=js lang2=js
else
  lang1=$1 lang2=$2
  shift 2
fi
vars=("$@")
for v in "${vars[@]}"; do
  if [[ "$v" == ZERO_TS_RECS=* ]]; then
    n=${v#ZERO_TS_RECS=}
    perl -e 'srand(7); my $n = shift;
      open(my $a, ">", "set1") or die; open(my $b, ">", "set2") or die;
      for (1..$n) { my $id = join("", map { sprintf("%08x", int(rand(2**32))) } 1..8);
        my $r = rand(); print $a "0,$id\n" if $r >= 0.01; print $b "0,$id\n" if $r < 0.01 || $r >= 0.02; }' "$n"
    vars+=("SET1=$PWD/set1" "SET2=$PWD/set2")
  fi
done
if [[ "$what" == delta ]]; then
  env DELTATRACE=1 "${vars[@]}" perl fuzz.pl js js | grep DELTATRACE >js.trace
  env DELTATRACE=1 "${vars[@]}" perl fuzz.pl ours ours | grep DELTATRACE >ours.trace
  if ! diff -q js.trace ours.trace >/dev/null; then
    diff -u js.trace ours.trace >trace.diff || true
    head -c 2000 trace.diff
    echo
    echo "messages differ from the JavaScript implementation's (${vars[*]})"
    exit 1
  fi
  echo "$(wc -l <ours.trace) messages, byte-for-byte those of the JavaScript implementation"
  exit 0
fi
if ! out=$(env "${vars[@]}" perl fuzz.pl "$lang1" "$lang2" 2>&1); then
  echo "$out" | tail -20
  echo "fuzz.pl $lang1 $lang2 ${vars[*]}: failed"
  exit 1
fi
echo "$out" | tail -4
grep -qx -- '-----------OK-----------' <<<"$out" || { echo "fuzz.pl printed no OK line"; exit 1; }
