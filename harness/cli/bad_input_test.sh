#!/usr/bin/env bash
# Bad input to `snapcell run`: each case must exit 2 with exactly one line on
# stderr naming the problem, print nothing on stdout, and create nothing (the
# state dir it was given must not even exist afterwards).
#   bad_input_test.sh <snapcell binary>
set -uo pipefail
snapcell=$1
scratch=$(mktemp -d /tmp/snapcell-badinput.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/base/bin" && : > "$scratch/file"
state="$scratch/state"
failures=0 cases=0

expect_refused() {  # description, expected text in the error, then the arguments
  local what=$1 expected=$2
  shift 2
  cases=$((cases + 1))
  local out err status
  out=$("$snapcell" "$@" 2>"$scratch/stderr")
  status=$?
  err=$(cat "$scratch/stderr")
  local problem=""
  [[ $status -eq 2 ]] || problem="exit $status, not 2"
  [[ -z "$out" ]] || problem="$problem; printed on stdout: $out"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && -n "$err" ]] || problem="$problem; stderr is not one line: $err"
  [[ "$err" == *"$expected"* ]] || problem="$problem; stderr does not say '$expected': $err"
  [[ ! -e "$state" ]] || problem="$problem; it created $state"
  if [[ -n "$problem" ]]; then
    echo "FAIL $what: $problem"
    failures=$((failures + 1))
    rm -rf "$state"
  else
    echo "ok   $what: $err"
  fi
}

base=(--state-dir "$state" --base "$scratch/base")
expect_refused "relative base" "is not absolute" run --state-dir "$state" --base relative/base -- /bin/true
expect_refused "'..' in the base" "'..'" run --state-dir "$state" --base "$scratch/base/.." -- /bin/true
expect_refused "base that does not exist" "No such file" run --state-dir "$state" --base "$scratch/none" -- /bin/true
expect_refused "base that is a file" "not a directory" run --state-dir "$state" --base "$scratch/file" -- /bin/true
expect_refused "btrfs base that is no subvolume" "btrfs" run "${base[@]}" --backend btrfs -- /bin/true
expect_refused "empty command" "command" run "${base[@]}"
expect_refused "empty program name" "command" run "${base[@]}" -- ""
expect_refused "unknown backend" "unknown backend 'zfs'" run "${base[@]}" --backend zfs -- /bin/true
expect_refused "unknown supervisor" "unknown supervisor 'chroot'" run "${base[@]}" --supervisor chroot -- /bin/true
expect_refused "host root without a PID namespace (cgroup)" "'cgroup' has no PID namespace" run "${base[@]}" --userns host --supervisor cgroup -- /bin/true
expect_refused "host root without a PID namespace (session)" "'session' has no PID namespace" run "${base[@]}" --userns host --supervisor session -- /bin/true
expect_refused "unknown user namespace" "unknown user namespace 'shared'" run "${base[@]}" --userns shared -- /bin/true
expect_refused "host network for host root" "'host' only with --userns own" run "${base[@]}" --userns host --network host -- /bin/true
expect_refused "log cap of nothing" "--log-cap" run "${base[@]}" --log-cap 0 -- /bin/true
expect_refused "log cap past 64 GiB" "--log-cap" run "${base[@]}" --log-cap 65537 -- /bin/true
expect_refused "log cap of a build that is not a number" "--log-cap" build "$scratch/file" --base "$scratch/base" --state-dir "$state" --log-cap lots
expect_refused "negative timeout" "--timeout" run "${base[@]}" --timeout -1 -- /bin/true
expect_refused "timeout that is no number" "timeout" run "${base[@]}" --timeout soon -- /bin/true
expect_refused "disk cap below 16 MiB" "--disk: must be between 16" run "${base[@]}" --disk 8 -- /bin/true
expect_refused "disk cap that is no number" "disk" run "${base[@]}" --disk lots -- /bin/true
expect_refused "disk cap beside --cow-size" "--disk: and --cow-size both" run --state-dir "$state" --base vg/lv \
  --backend lvm --cow-size 64m --disk 64 -- /bin/true
expect_refused "process cap below 16" "--max-processes: must be between 16" run "${base[@]}" --max-processes 4 -- /bin/true
expect_refused "memory cap above 1 TiB" "--memory: must be between 64" run "${base[@]}" --memory 2000000 -- /bin/true
expect_refused "build: disk cap above 16 TiB" "--disk: must be between 16" build "$scratch/file" --state-dir "$state" \
  --base "$scratch/base" --disk 99999999
expect_refused "verify: process cap the fork bomb cannot pass" "--max-processes: must be between 16 and 1000" \
  verify --max-processes 4000
expect_refused "verify: disk cap of 0" "--disk: must be given a size" verify --disk 0
expect_refused "relative state dir" "is not absolute" run --state-dir state --base "$scratch/base" -- /bin/true
expect_refused "newline in the base" "control character" run --state-dir "$state" --base "$scratch/ba
se" -- /bin/true
expect_refused "unknown option" "--frobnicate" run "${base[@]}" --frobnicate -- /bin/true
expect_refused "no subcommand" "subcommand" --state-dir "$state"
expect_refused "relative wheelhouse" "is not absolute" build "$scratch/file" --state-dir "$state" \
  --base "$scratch/base" --wheelhouse wheels
expect_refused "build: unknown user namespace" "unknown user namespace 'shared'" build "$scratch/file" \
  --state-dir "$state" --base "$scratch/base" --userns shared
for supervisor in cgroup session; do
  expect_refused "build without a PID namespace ($supervisor)" "'$supervisor' has no PID namespace, which a build needs" \
    build "$scratch/file" --state-dir "$state" --base "$scratch/base" --supervisor "$supervisor"
done
expect_refused "a package name debootstrap would not take" "is not a Debian package name" \
  base create trixie-py --bases-dir "$state" --include 'flit,$(reboot)'
expect_refused "packages added to an imported base" "an imported base" \
  base create imported --bases-dir "$state" --from "$scratch/base" --include flit
# verify refuses a technique it does not know before it needs root or makes anything.
expect_refused "verify: unknown technique" "unknown technique 'no_such_technique'" verify --only no_such_technique
expect_refused "verify: one unknown among known" "unknown technique 'setsid_escap'" verify --only well_behaved setsid_escap

echo "$((cases - failures)) passed, $failures failed"
exit $((failures > 0))
