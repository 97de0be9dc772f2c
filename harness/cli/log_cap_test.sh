#!/usr/bin/env bash
# A command's output reaches its log through a capped pipe (issue 13, item
# 5): past --log-cap it is counted and dropped, never written, and the build
# goes on; without --log, the state dir keeps no log once the report has its
# end; a build that prints without end, or a process that escaped a weak
# supervisor holding the pipe open, does not keep `run` from returning.
#   log_cap_test.sh <snapcell binary>
set -uo pipefail
snapcell=$1
if ((EUID != 0)); then echo "SKIPPED: needs root"; exit 0; fi

scratch=$(mktemp -d /tmp/snapcell-logcap.XXXXXX)
state="$scratch/state"
leaf="snapcell-test-logcap-$$"
source "$(dirname "$0")/../host/cgroup_parent.sh"
cgroup_parent=$(test_cgroup_parent "$leaf")
marker="sleep 61.$$"  # the escaped process's command line, unique to this test
source "$(dirname "$0")/test_sandbox.sh"
cleanup() {
  pkill -f "^$marker\$" 2>/dev/null
  remove_test_sessions "$snapcell" "$state" "$cgroup_parent" "$leaf" "$scratch"
}
trap cleanup EXIT

make_busybox_base "$scratch/base" sh sleep yes head echo setsid
run=("$snapcell" run --state-dir "$state" --cgroup-parent "$cgroup_parent" --base "$scratch/base")

failures=0
check() {  # description, value, expected
  if [[ "$2" != "$3" ]]; then echo "FAIL $1: '$2' (expected '$3')"; failures=$((failures + 1)); else echo "ok   $1: $2"; fi
}
logs_left() { find "$state/logs" -type f 2>/dev/null | wc -l; }

# 3 MB of output against a cap of 1 MiB, into the report (no --log).
printed=3000000
cap=$((1 << 20))
json=$("${run[@]}" --json --log-cap 1 -- /bin/sh -c "yes snapcell | head -c $printed")
check "run exit code, output past the cap" "$?" 0
check "bytes kept" "$(jq -r .output.bytes <<<"$json")" "$cap"
check "bytes dropped" "$(jq -r .output.dropped_bytes <<<"$json")" "$((printed - cap))"
check "the report's tail ends with the note of the drop" \
  "$(jq -r '.output.tail[-1]' <<<"$json")" "[snapcell: $((printed - cap)) more bytes of output dropped at the log's cap of $cap bytes]"
check "logs left in the state dir" "$(logs_left)" 0

# The same into a file the user named: kept there, with the note.
"${run[@]}" --log "$scratch/out.log" --log-cap 1 -- /bin/sh -c "yes snapcell | head -c $printed" >"$scratch/report.txt"
check "run exit code, --log" "$?" 0
check "--log file: what was kept, then the note" "$(head -c "$cap" "$scratch/out.log" | tr -d '\n' | tr -d 'snapcel' | wc -c)" 0
check "--log file: the note" "$(tail -1 "$scratch/out.log")" \
  "[snapcell: $((printed - cap)) more bytes of output dropped at the log's cap of $cap bytes]"
check "the text report says where and what was dropped" \
  "$(grep -c "output: $cap bytes in $scratch/out.log, $((printed - cap)) more dropped at the cap of 1 MiB" "$scratch/report.txt")" 1

# A build that prints until its deadline: the run ends at the deadline, the log at its cap.
"${run[@]}" --log "$scratch/endless.log" --log-cap 1 --timeout 2 -- /bin/sh -c 'yes endless' >/dev/null
check "run exit code, printing until the deadline" "$?" 1
check "endless output: bytes kept before the note" "$(head -c "$cap" "$scratch/endless.log" | grep -c -v '^endless$')" 0
check "endless output: the log ends with the note" "$(tail -1 "$scratch/endless.log" | grep -c '^\[snapcell: [0-9]* more bytes')" 1

# A process that left the session supervisor's process group (setsid) keeps
# the pipe open: run still returns (with nothing to wait for, a hang here
# would last the 61 s of its sleep: `timeout 30` turns it into a failure).
timeout 30 "${run[@]}" --supervisor session -- /bin/sh -c "setsid $marker </dev/null & echo started" >"$scratch/escape.txt"
check "run exit code, an escaped process holding the pipe" "$?" 0
check "the report has the output before the escape" "$(grep -c '    | started' "$scratch/escape.txt")" 1
pkill -f "^$marker\$"

# Small output: shown whole in the text report, and no log kept.
"${run[@]}" -- /bin/sh -c 'echo one; echo two >&2; printf "\033]0;title\007three"' >"$scratch/small.txt"
check "run exit code, small output" "$?" 0
check "the whole output in the report, control characters escaped" \
  "$(grep -A3 '^  output: ' "$scratch/small.txt" | tail -3 | tr '\n' '|')" '    | one|    | two|    | \x1b]0;title\x07three|'
check "logs left in the state dir after all" "$(logs_left)" 0

echo "$failures failed"
exit $((failures > 0))
