#!/usr/bin/env bash
# `snapcell run --backend lvm` refuses a base it cannot snapshot, before it
# makes anything: a missing VG, a missing origin, an origin that is not
# active, a bare (relative) name, a path, a PV's device, a name in snapcell's
# own snapshot namespace, a bad --cow-size. Each case: exit 2, one line on
# stderr that names the problem (lvm's own words where lvm found it), nothing
# on stdout, no state dir, no new LV, no mount, no cgroup.
#
# No device-mapper is needed: the VG is real LVM metadata on a loop device of
# our own (pvcreate, vgcreate), and its one LV is written into the metadata
# with vgcfgrestore, so lvs lists it (inactive) as it would on any host.
#   lvm_refusals_test.sh <snapcell binary>
set -uo pipefail
snapcell=$1
if ((EUID != 0)); then echo "SKIPPED: not root (needs a loop device)"; exit 0; fi
if ! command -v lvm >/dev/null; then echo "SKIPPED: lvm is not installed (ci/install-deps installs lvm2)"; exit 0; fi

export LVM_SUPPRESS_FD_WARNINGS=1
scratch=$(mktemp -d /tmp/snapcell-lvm-refusals.XXXXXX)
vg="snapcelltest$$"
loop=""
lvm_config() { echo "devices{use_devicesfile=0 filter=[\"a|^${loop}\$|\",\"r|.*|\"]}"; }
cleanup() {
  if [[ -n "$loop" ]]; then
    lvm vgremove --config "$(lvm_config)" -ff "$vg" >/dev/null 2>&1
    lvm pvremove --config "$(lvm_config)" -ff -y "$loop" >/dev/null 2>&1
    losetup -d "$loop"
  fi
  rm -rf "$scratch"
}
trap cleanup EXIT

truncate -s 64M "$scratch/pv.img"
loop=$(losetup --find --show "$scratch/pv.img") || { echo "FAIL: losetup"; exit 1; }
lvm pvcreate --config "$(lvm_config)" "$loop" >/dev/null 2>&1 || { echo "FAIL: pvcreate $loop"; exit 1; }
lvm vgcreate --config "$(lvm_config)" "$vg" "$loop" >/dev/null 2>&1 || { echo "FAIL: vgcreate $vg"; exit 1; }
# One plain LV, "origin", two extents on pv0, written into the VG's metadata.
lvm vgcfgbackup --config "$(lvm_config)" -f "$scratch/vg.txt" "$vg" >/dev/null 2>&1 || { echo "FAIL: vgcfgbackup"; exit 1; }
lv_text='	logical_volumes {
		origin {
			id = "snapcl-test-orig-inlv-0000-0000-000000"
			status = ["READ", "WRITE", "VISIBLE"]
			flags = []
			segment_count = 1
			segment1 {
				start_extent = 0
				extent_count = 2
				type = "striped"
				stripe_count = 1
				stripes = ["pv0", 0]
			}
		}
	}'
# The VG's section closes with the file's last "}": the LV goes just before it,
# and the sequence number goes up so that lvm takes the new metadata.
last=$(grep -n '^}' "$scratch/vg.txt" | tail -1 | cut -d: -f1)
seqno=$(sed -n 's/^[[:space:]]*seqno = \([0-9]*\).*/\1/p' "$scratch/vg.txt" | head -1)
[[ -n "$last" && -n "$seqno" ]] || { echo "FAIL: unexpected vgcfgbackup format"; exit 1; }
{ head -n $((last - 1)) "$scratch/vg.txt"; printf '%s\n' "$lv_text"; tail -n +"$last" "$scratch/vg.txt"; } |
  sed "s/seqno = $seqno/seqno = $((seqno + 1))/" > "$scratch/vg-with-lv.txt"
lvm vgcfgrestore --config "$(lvm_config)" -f "$scratch/vg-with-lv.txt" "$vg" >/dev/null 2>&1 || { echo "FAIL: vgcfgrestore"; exit 1; }
lvs_before=$(lvm lvs --config "$(lvm_config)" --noheadings -o lv_name "$vg" 2>/dev/null | tr -d ' ')
[[ "$lvs_before" == origin ]] || { echo "FAIL: the test VG lists '$lvs_before', not its one LV 'origin'"; exit 1; }

mkdir -p "$scratch/dir"
state="$scratch/state"
mounts_before=$(findmnt -rn -o TARGET | sort)
failures=0 cases=0
expect_refused() {  # description, expected text in the error, then the arguments after `run`
  local what=$1 expected=$2
  shift 2
  cases=$((cases + 1))
  local out err status problem=""
  out=$("$snapcell" run --backend lvm --state-dir "$state" --cgroup-parent "/sys/fs/cgroup/unified/snapcell-lvm-refusals-$$" \
        "$@" -- /bin/true 2>"$scratch/stderr")
  status=$?
  err=$(cat "$scratch/stderr")
  [[ $status -eq 2 ]] || problem="exit $status, not 2"
  [[ -z "$out" ]] || problem="$problem; printed on stdout: $out"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && -n "$err" ]] || problem="$problem; stderr is not one line: $err"
  [[ "$err" == *"$expected"* ]] || problem="$problem; stderr does not say '$expected': $err"
  [[ ! -e "$state" ]] || problem="$problem; it created $state"
  [[ ! -e "/sys/fs/cgroup/unified/snapcell-lvm-refusals-$$" ]] || problem="$problem; it made its cgroup parent"
  local lvs_after
  lvs_after=$(lvm lvs --config "$(lvm_config)" --noheadings -o lv_name "$vg" 2>/dev/null | tr -d ' ')
  [[ "$lvs_after" == "$lvs_before" ]] || problem="$problem; the VG now lists: $lvs_after"
  [[ "$(findmnt -rn -o TARGET | sort)" == "$mounts_before" ]] || problem="$problem; the mount table changed"
  if [[ -n "$problem" ]]; then
    echo "FAIL $what: $problem"
    failures=$((failures + 1))
    rm -rf "$state"
  else
    echo "ok   $what: $err"
  fi
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

echo "$cases case(s), $failures failure(s)"
((failures == 0))
