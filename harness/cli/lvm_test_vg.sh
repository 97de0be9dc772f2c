# Sourced by the lvm refusal tests: a volume group of the test's own with
# one plain LV, "origin", and no device-mapper needed. The VG is real LVM
# metadata on a loop device over "$scratch/pv.img" (pvcreate, vgcreate);
# the LV is written into the metadata with vgcfgrestore, so lvs lists it
# (inactive) as it would on any host.
#   scratch=DIR vg=NAME; source lvm_test_vg.sh; trap 'remove_test_vg; rm -rf "$scratch"' EXIT; make_test_vg
# After make_test_vg: $loop, lvm_config, test_vg_lvs (the VG's LV names), $lvs_before.
export LVM_SUPPRESS_FD_WARNINGS=1
loop=""
lvm_config() { echo "devices{use_devicesfile=0 filter=[\"a|^${loop}\$|\",\"r|.*|\"]}"; }
test_vg_lvs() { lvm lvs --config "$(lvm_config)" --noheadings -o lv_name "$vg" 2>/dev/null | tr -d ' '; }

remove_test_vg() {
  [[ -n "$loop" ]] || return 0
  lvm vgremove --config "$(lvm_config)" -ff "$vg" >/dev/null 2>&1
  lvm pvremove --config "$(lvm_config)" -ff -y "$loop" >/dev/null 2>&1
  losetup -d "$loop"
  loop=""
}

make_test_vg() {
  truncate -s 64M "$scratch/pv.img"
  loop=$(losetup --find --show "$scratch/pv.img") || { echo "FAIL: losetup"; exit 1; }
  lvm pvcreate --config "$(lvm_config)" "$loop" >/dev/null 2>&1 || { echo "FAIL: pvcreate $loop"; exit 1; }
  lvm vgcreate --config "$(lvm_config)" "$vg" "$loop" >/dev/null 2>&1 || { echo "FAIL: vgcreate $vg"; exit 1; }
  # One plain LV, "origin", two extents on pv0, written into the VG's metadata.
  lvm vgcfgbackup --config "$(lvm_config)" -f "$scratch/vg.txt" "$vg" >/dev/null 2>&1 || { echo "FAIL: vgcfgbackup"; exit 1; }
  local lv_text='	logical_volumes {
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
  # The VG's section closes with the file's last "}": the LV goes just before
  # it, and the sequence number goes up so that lvm takes the new metadata.
  local last seqno
  last=$(grep -n '^}' "$scratch/vg.txt" | tail -1 | cut -d: -f1)
  seqno=$(sed -n 's/^[[:space:]]*seqno = \([0-9]*\).*/\1/p' "$scratch/vg.txt" | head -1)
  [[ -n "$last" && -n "$seqno" ]] || { echo "FAIL: unexpected vgcfgbackup format"; exit 1; }
  { head -n $((last - 1)) "$scratch/vg.txt"; printf '%s\n' "$lv_text"; tail -n +"$last" "$scratch/vg.txt"; } |
    sed "s/seqno = $seqno/seqno = $((seqno + 1))/" > "$scratch/vg-with-lv.txt"
  lvm vgcfgrestore --config "$(lvm_config)" -f "$scratch/vg-with-lv.txt" "$vg" >/dev/null 2>&1 ||
    { echo "FAIL: vgcfgrestore"; exit 1; }
  lvs_before=$(test_vg_lvs)
  [[ "$lvs_before" == origin ]] || { echo "FAIL: the test VG lists '$lvs_before', not its one LV 'origin'"; exit 1; }
}

# What every refusal must be, whatever refused it: exit 2, nothing on
# stdout, one line on stderr that says `expected`, and the test VG as it
# was. Appends what is wrong to $problem.
#   check_refusal STATUS STDOUT STDERR EXPECTED
check_refusal() {
  local status=$1 out=$2 err=$3 expected=$4 lvs_after
  [[ $status -eq 2 ]] || problem="$problem; exit $status, not 2"
  [[ -z "$out" ]] || problem="$problem; printed on stdout: $out"
  [[ $(printf '%s\n' "$err" | wc -l) -eq 1 && -n "$err" ]] || problem="$problem; stderr is not one line: $err"
  [[ "$err" == *"$expected"* ]] || problem="$problem; stderr does not say '$expected': $err"
  lvs_after=$(test_vg_lvs)
  [[ "$lvs_after" == "$lvs_before" ]] || problem="$problem; the VG now lists: $lvs_after"
}

# One case's verdict: "ok" with what it said, or FAIL with $problem (counted in $failures).
#   report_case WHAT STDERR
report_case() {
  if [[ -n "$problem" ]]; then
    echo "FAIL $1: ${problem#; }"
    failures=$((failures + 1))
  else
    echo "ok   $1: $2"
  fi
}
