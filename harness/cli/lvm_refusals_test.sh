#!/usr/bin/env bash
# `snapcell run --backend lvm` refuses a base it cannot snapshot, before it
# makes anything: a missing VG, a missing origin, an origin that is not
# active, a bare (relative) name, a path, a PV's device, a name in snapcell's
# own snapshot namespace, a bad --cow-size. `build` and `verify` refuse the
# same way (and what is theirs alone: an origin given without --backend lvm,
# verify's --vg and --thin-pool). Each case: exit 2, one line on stderr that
# names the problem (lvm's own words where lvm found it), nothing on stdout,
# no state dir, no verify scratch, no new LV, no mount, no cgroup.
#
# No device-mapper is needed: the VG is real LVM metadata on a loop device of
# our own (pvcreate, vgcreate), and its one LV is written into the metadata
# with vgcfgrestore, so lvs lists it (inactive) as it would on any host.
#   lvm_refusals_test.sh <snapcell binary>
set -uo pipefail
snapcell=$1
if ((EUID != 0)); then echo "SKIPPED: not root (needs a loop device)"; exit 0; fi
if ! command -v lvm >/dev/null; then echo "SKIPPED: lvm is not installed (ci/install-deps installs lvm2)"; exit 0; fi

scratch=$(mktemp -d /tmp/snapcell-lvm-refusals.XXXXXX)
vg="snapcelltest$$"
source "$(dirname "$0")/lvm_test_vg.sh"
source "$(dirname "$0")/../host/cgroup_parent.sh"
trap 'remove_test_vg; rm -rf "$scratch"' EXIT
make_test_vg

mkdir -p "$scratch/dir"
state="$scratch/state"
mounts_before=$(findmnt -rn -o TARGET | sort)
failures=0 cases=0
# A small sdist of our own: build checks the archive before it looks at the base.
mkdir -p "$scratch/sdist/tiny-1.0"
printf 'Metadata-Version: 2.1\nName: tiny\nVersion: 1.0\n' >"$scratch/sdist/tiny-1.0/PKG-INFO"
printf '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n' >"$scratch/sdist/tiny-1.0/pyproject.toml"
tar -C "$scratch/sdist" -czf "$scratch/tiny-1.0.tar.gz" tiny-1.0
verify_scratch_before=$(ls -d /tmp/snapcell-verify* 2>/dev/null | sort)
cgroup_parent=$(test_cgroup_parent "snapcell-lvm-refusals-$$")
command=run
expect_refused() {  # description, expected text in the error, then the arguments after `$command`
  local what="$command: $1" expected=$2
  shift 2
  cases=$((cases + 1))
  local out err status problem=""
  case $command in
    run) out=$("$snapcell" run --backend lvm --state-dir "$state" --cgroup-parent "$cgroup_parent" "$@" -- /bin/true \
               2>"$scratch/stderr") ;;
    build) out=$("$snapcell" build "$scratch/tiny-1.0.tar.gz" --out "$scratch/out" --state-dir "$state" \
                 --cgroup-parent "$cgroup_parent" "$@" 2>"$scratch/stderr") ;;
    verify) out=$("$snapcell" verify "$@" 2>"$scratch/stderr") ;;
  esac
  status=$?
  err=$(cat "$scratch/stderr")
  check_refusal "$status" "$out" "$err" "$expected"
  [[ ! -e "$state" ]] || problem="$problem; it created $state"
  [[ ! -e "$cgroup_parent" ]] || problem="$problem; it made its cgroup parent"
  [[ ! -e "$scratch/out" ]] || problem="$problem; it made --out"
  [[ "$(ls -d /tmp/snapcell-verify* 2>/dev/null | sort)" == "$verify_scratch_before" ]] || problem="$problem; a verify scratch is left"
  ls -d "$(cgroup_v2_mount)"/snapcell-verify-* >/dev/null 2>&1 && problem="$problem; a verify cgroup is left"
  [[ "$(findmnt -rn -o TARGET | sort)" == "$mounts_before" ]] || problem="$problem; the mount table changed"
  [[ -z "$problem" ]] || rm -rf "$state"
  report_case "$what" "$err"
}

expect_refused "missing volume group" "Volume group \"nosuch$vg\" not found" --base "nosuch$vg/origin"
expect_refused "missing origin" "Failed to find logical volume \"$vg/none\"" --base "$vg/none"
expect_refused "origin not active" "is not active" --base "$vg/origin"
expect_refused "relative name (no VG)" "names no volume group" --base origin
expect_refused "relative path" "validate volume group(.)" --base ./origin
expect_refused "a directory, not an LV" "is a path" --base "$scratch/dir"
expect_refused "the PV's device, not an LV" "is a path" --base "$loop"
expect_refused "the VG alone, not an LV" "validate origin" --base "$vg/"
expect_refused "three components" "more than one '/'" --base "$vg/origin/x"
expect_refused "a name among snapcell's snapshots" "snapcell's own snapshots" --base "$vg/snapcell-0123456789abcdef"
expect_refused "an option as the LV" "must not start with '-'" --base "$vg/-origin"
expect_refused "a zero --cow-size" "is zero" --base "$vg/origin" --cow-size 0
expect_refused "a --cow-size that is not a size" "is not a size" --base "$vg/origin" --cow-size 10%ORIGIN

command=build
expect_refused "missing volume group" "Volume group \"nosuch$vg\" not found" --backend lvm --base "nosuch$vg/origin"
expect_refused "missing origin" "Failed to find logical volume \"$vg/none\"" --backend lvm --base "$vg/none"
expect_refused "origin not active" "is not active" --backend lvm --base "$vg/origin"
expect_refused "an origin without --backend lvm" "give --backend lvm" --base "$vg/origin"
expect_refused "the VG alone, not an LV" "validate origin" --backend lvm --base "$vg/"
expect_refused "a directory on lvm" "is a path" --backend lvm --base "$scratch/dir"
expect_refused "--cow-size without lvm" "is for --backend lvm" --base "$scratch/dir" --cow-size 64m
expect_refused "a --cow-size that is not a size" "is not a size" --backend lvm --base "$vg/origin" --cow-size lots

command=verify
expect_refused "neither --vg nor --base" "needs --vg VG" --backend lvm
expect_refused "missing volume group" "Volume group \"nosuch$vg\" not found" --backend lvm --vg "nosuch$vg"
expect_refused "a bad VG name" "validate --vg" --backend lvm --vg "-vg"
expect_refused "missing thin pool" "no such logical volume in $vg" --backend lvm --vg "$vg" --thin-pool nopool
expect_refused "a plain LV as the thin pool" "is not a thin pool" --backend lvm --vg "$vg" --thin-pool origin
expect_refused "--vg and --base" "not both" --backend lvm --vg "$vg" --base "$vg/origin"
expect_refused "--vg without lvm" "is for --backend lvm" --vg "$vg"
expect_refused "missing origin" "Failed to find logical volume \"$vg/none\"" --backend lvm --base "$vg/none"
expect_refused "origin not active" "is not active" --backend lvm --base "$vg/origin"

echo "$cases case(s), $failures failure(s)"
((failures == 0))
