#!/usr/bin/env bash
# I6 for real: `snapcell run` is killed with SIGKILL at seed-chosen moments
# (spread over its phases: claim, mkdir, snapshot, mount, spawn, build,
# teardown), 30 times, while another session stays live; `snapcell reap`
# must then leave no mount, volume, cgroup or process of the killed sessions,
# and must not touch the live one. On overlay and on copy, whose volumes each
# hold a tmpfs of their own (layers, copy) that reap must unmount too.
#   crash_reap_test.sh <snapcell binary> [SEED|random] [BACKEND]
set -uo pipefail
snapcell=$1
seed=${2:-random}
[[ "$seed" == random ]] && seed=$RANDOM
backend=${3:-overlay}
trials=30
RANDOM=$seed
echo "seed $seed, backend $backend (replay: $0 $snapcell $seed $backend)"

if ((EUID != 0)); then echo "SKIPPED: needs root"; exit 0; fi

scratch=$(mktemp -d /tmp/snapcell-crash.XXXXXX)
state="$scratch/state"
leaf="snapcell-test-crash-$$"   # a cgroup parent of this test's own (v2, and v1 pids/memory where present)
source "$(dirname "$0")/../host/cgroup_parent.sh"
cgroup_parent=$(test_cgroup_parent "$leaf")
live_pid=""
source "$(dirname "$0")/test_sandbox.sh"
cleanup() {
  [[ -n "$live_pid" ]] && kill -9 "$live_pid" 2>/dev/null && wait "$live_pid" 2>/dev/null
  remove_test_sessions "$snapcell" "$state" "$cgroup_parent" "$leaf" "$scratch"
}
trap cleanup EXIT

make_busybox_base "$scratch/base" sh sleep true
run=("$snapcell" run --state-dir "$state" --cgroup-parent "$cgroup_parent" --base "$scratch/base" --timeout 60
     --backend "$backend")

# The live session: a build that sleeps while everything else happens.
"${run[@]}" --log "$scratch/live.log" -- /bin/sleep 120 >/dev/null 2>&1 &
live_pid=$!
for _ in $(seq 100); do [[ -n "$(ls "$state/mnt" 2>/dev/null)" ]] && break; sleep 0.05; done
live=$(ls "$state/mnt")
[[ -n "$live" ]] || { echo "FAIL: the live session never mounted"; exit 1; }

for trial in $(seq "$trials"); do
  delay_us=$((RANDOM % 40000))   # a full turnaround here is 5-30 ms
  "${run[@]}" -- /bin/sh -c 'sleep 1000 & sleep 1000 & sleep 1000' >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%06d' "$delay_us")"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
done
echo "killed $trials runs; journal records left: $(ls "$state/journal" | wc -l)"

reap_output=$("$snapcell" reap --state-dir "$state" --cgroup-parent "$cgroup_parent" 2>&1)
status=$?
echo "$reap_output" | tail -1
# What reap said about each session it could not finish, and its errors: the first clue on a failure.
((status == 0)) || echo "$reap_output" |
  awk '/^session /{show = /LEFT RESOURCES/} show || /^snapcell reap:/ {print "  reap: " $0}'
failures=0
check() {  # description, count, expected
  if [[ "$2" != "$3" ]]; then echo "FAIL $1: $2 (expected $3)"; failures=$((failures + 1)); else echo "ok   $1: $2"; fi
}
check "reap exit code" "$status" 0
check "session mounts left besides the live one" "$(findmnt -rn -o TARGET | grep "^$state/mnt/" | grep -vc "/$live$")" 0
check "mount point dirs left besides the live one" "$(ls "$state/mnt" | grep -vc "^$live$")" 0
check "volumes left besides the live one" "$(ls "$state/volumes" | grep -vc "^$live$")" 0
check "volumes' own tmpfs left besides the live one's" \
  "$(findmnt -rn -o SOURCE | grep -E '^snapcell-(layers|copy):' | grep -vc ":$live$")" 0
check "journal records left besides the live one" "$(ls "$state/journal" | grep -vc "^$live$")" 0
check "logs of killed runs left in the state dir" "$(find "$state/logs" -type f 2>/dev/null | wc -l)" 0
check "cgroups left besides the live one" \
  "$(find "$cgroup_parent" -mindepth 1 -maxdepth 1 -type d -name 'snapcell-*' ! -name "$live" | wc -l)" 0
check "processes of killed builds" "$(pgrep -c -f 'sleep 1000' || true)" 0
check "the live session's mount" "$(findmnt -rn -o TARGET | grep -c "^$state/mnt/$live$")" 1
check "the live session's build" "$(pgrep -c -f '^/bin/sleep 120$' || true)" 1
check "the live session's controller" "$(kill -0 "$live_pid" 2>/dev/null && echo alive)" alive

echo "$((12 - failures)) passed, $failures failed"
exit $((failures > 0))
