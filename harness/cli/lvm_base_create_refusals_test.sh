#!/usr/bin/env bash
# `snapcell base create --backend lvm` refuses bad input before it makes
# anything: no --vg, a VG name lvm would not take, a bad or zero --size, the
# lvm options with another backend, a base name already in the store, an LV
# of that name already in the VG, a missing VG, a "pool" that is no thin
# pool, a base name among snapcell's snapshot names. Each case: exit 2, one
# line on stderr that names the problem (lvm's own words where lvm found it),
# nothing on stdout, no new LV, no new record (the bases dir unchanged), no
# mount. And `base rm` of an lvm base whose LV lacks the snapcell-base tag:
# refused the same way, the LV and the record kept.
#
# No device-mapper is needed: the VG is real LVM metadata on a loop device of
# our own (pvcreate, vgcreate), and its one LV, "origin", is written into the
# metadata with vgcfgrestore (as lvm_refusals_test.sh does), so lvs lists it.
#   lvm_base_create_refusals_test.sh <snapcell binary>
set -uo pipefail
snapcell=$1
if ((EUID != 0)); then echo "SKIPPED: not root (needs a loop device)"; exit 0; fi
if ! command -v lvm >/dev/null; then echo "SKIPPED: lvm is not installed (ci/install-deps installs lvm2)"; exit 0; fi

scratch=$(mktemp -d /tmp/snapcell-lvm-base-refusals.XXXXXX)
vg="snapcellbasetest$$"
source "$(dirname "$0")/lvm_test_vg.sh"
trap 'remove_test_vg; rm -rf "$scratch"' EXIT
make_test_vg

# A tree to import, and a base already in the store ("taken", an overlay
# base: made without lvm, so it works on any host).
mkdir -p "$scratch/tree/etc"
echo tree > "$scratch/tree/etc/marker"
bases="$scratch/bases"
"$snapcell" base create taken --from "$scratch/tree" --bases-dir "$bases" >/dev/null 2>&1 ||
  { echo "FAIL: base create taken (overlay) for the name-taken case"; exit 1; }
bases_before=$(ls -A "$bases")
mounts_before=$(findmnt -rn -o TARGET | sort)

failures=0 cases=0
expect_refused() {  # description, expected text in the error, then the arguments after `base create`
  local what=$1 expected=$2
  shift 2
  cases=$((cases + 1))
  local out err status problem=""
  out=$("$snapcell" base create --bases-dir "$bases" "$@" 2>"$scratch/stderr")
  status=$?
  err=$(cat "$scratch/stderr")
  check_refusal "$status" "$out" "$err" "$expected"
  [[ "$(ls -A "$bases")" == "$bases_before" ]] || problem="$problem; the bases dir now holds: $(ls -A "$bases" | tr '\n' ' ')"
  [[ "$(findmnt -rn -o TARGET | sort)" == "$mounts_before" ]] || problem="$problem; the mount table changed"
  report_case "$what" "$err"
}

from=(--from "$scratch/tree")
expect_refused "no --vg" "is required with --backend lvm" fresh --backend lvm "${from[@]}"
expect_refused "a VG name lvm would not take" "validate volume group" fresh --backend lvm --vg 'vg!x' "${from[@]}"
expect_refused "a VG name that is a path" "validate volume group" fresh --backend lvm --vg "/dev/$vg" "${from[@]}"
expect_refused "a pool name lvm would not take" "validate thin pool" fresh --backend lvm --vg "$vg" --thin-pool 'a/b' "${from[@]}"
expect_refused "a --size that is not a size" "is not a size" fresh --backend lvm --vg "$vg" --size 10%FREE "${from[@]}"
expect_refused "a zero --size" "is zero" fresh --backend lvm --vg "$vg" --size 0g "${from[@]}"
expect_refused "--vg without --backend lvm" "is for --backend lvm" fresh --vg "$vg" "${from[@]}"
expect_refused "--size with --backend btrfs" "is for --backend lvm" fresh --backend btrfs --size 1g "${from[@]}"
expect_refused "--thin-pool without --backend lvm" "is for --backend lvm" fresh --thin-pool pool "${from[@]}"
expect_refused "a base name among snapcell's snapshots" "snapcell-* is for snapshots" snapcell-x --backend lvm --vg "$vg" "${from[@]}"
expect_refused "a base name already in the store" "already exists" taken --backend lvm --vg "$vg" "${from[@]}"
expect_refused "an LV of that name already in the VG" "logical volume $vg/origin already exists" origin --backend lvm --vg "$vg" "${from[@]}"
expect_refused "a missing volume group" "Volume group \"nosuch$vg\" not found" fresh --backend lvm --vg "nosuch$vg" "${from[@]}"
expect_refused "a missing thin pool" "no such logical volume in $vg" fresh --backend lvm --vg "$vg" --thin-pool nopool "${from[@]}"
expect_refused "a thin pool that is a plain LV" "is not a thin pool" fresh --backend lvm --vg "$vg" --thin-pool origin "${from[@]}"
expect_refused "--from that is not a directory" "not a directory" fresh --backend lvm --vg "$vg" --from "$scratch/tree/etc/marker"

# `base rm` of an lvm base whose LV snapcell did not make (no snapcell-base
# tag): refused, exit 2, one line; the LV and the record both stay.
mkdir -p "$bases/notours"
printf '{"name":"notours","backend":"lvm","source":"import /x","created_at":"2026-12-02T00:00:00Z","creation_seconds":1.0,"root":"%s/origin"}\n' \
  "$vg" > "$bases/notours/base.json"
cases=$((cases + 1))
out=$("$snapcell" base rm notours --bases-dir "$bases" 2>"$scratch/stderr")
status=$?
err=$(cat "$scratch/stderr")
problem=""
check_refusal "$status" "$out" "$err" "has no snapcell-base tag"
[[ -e "$bases/notours/base.json" ]] || problem="$problem; the record is gone"
report_case "base rm of an untagged LV" "$err"

echo "$cases case(s), $failures failure(s)"
((failures == 0))
