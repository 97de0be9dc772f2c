# Shared by the builder tests (sourced): a scratch dir, a state dir and a
# cgroup parent of the test's own, all removed on exit whatever happened;
# the sample sdists packed into the scratch; `check` for counted results.
# Usage in a test: source lib.sh; builder_setup "$@"
#   $1 snapcell binary   $2 bases dir   $3 base name   $4 samples dir (reference/samples)

source "$(dirname "${BASH_SOURCE[0]}")/../host/cgroup_parent.sh"

builder_setup() {
  snapcell=$1 bases_dir=$2 base=$3 samples=$4
  if ((EUID != 0)); then echo "SKIPPED: needs root"; exit 0; fi
  if [[ ! -f "$bases_dir/$base/base.json" ]]; then
    echo "FAIL: no base $base in $bases_dir (the builder/base fixture makes it)"; exit 1
  fi
  scratch=$(mktemp -d /tmp/snapcell-builder.XXXXXX)
  state="$scratch/state"
  leaf="snapcell-test-builder-$$"
  cgroup_parent=$(test_cgroup_parent "$leaf")
  trap builder_cleanup EXIT
  "$samples/make-sdists" "$scratch/sdists" >/dev/null
  build_anywhere=("$snapcell" build --bases-dir "$bases_dir" --base "$base" --state-dir "$state"
                  --cgroup-parent "$cgroup_parent")
  build=("${build_anywhere[@]}" --out "$scratch/out")
  run=("$snapcell" run --base "$bases_dir/$base/root" --state-dir "$state" --cgroup-parent "$cgroup_parent")
  failures=0
  passes=0
}

builder_cleanup() {
  "$snapcell" reap --state-dir "$state" --cgroup-parent "$cgroup_parent" >/dev/null 2>&1
  for dir in "$state/mnt" "$state"; do mountpoint -q "$dir" && umount "$dir"; done
  remove_test_cgroup_parent "$leaf"
  rm -rf "$scratch"
}

check() {  # description, actual, expected
  if [[ "$2" != "$3" ]]; then
    echo "FAIL $1: $2 (expected $3)"
    failures=$((failures + 1))
  else
    echo "ok   $1: $2"
    passes=$((passes + 1))
  fi
}

json_field() {  # file, jq filter
  jq -r "$2" "$1"
}

# What a build's JSON report says cleanup proved, as one word per field.
cleanup_line() {
  jq -r '.cleanup | "processes \(.processes_left) mounts \(.mounts_left) cgroups \(.cgroups_left) netns \(.network_namespaces_left) volume_removed \(.volume_removed) sentinel \(.sentinel_alive) proven \(.containment_proven)"' "$1"
}
clean_line="processes 0 mounts 0 cgroups 0 netns 0 volume_removed true sentinel true proven true"

# Processes (zombies too) running as a build's host uid: a leased uid of
# the host's user namespace (--userns host, from 3100000000) or an id of a
# build's own user namespace range (from 3200000000). ps prints a uid above
# 2^31 as a negative number (3100000005 as -1194967291): taken back modulo 2^32.
build_uid_processes() {
  ps -eo uid=,stat=,pid= | awk '{ u = $1 < 0 ? $1 + 4294967296 : $1 } u >= 3100000000'
}

# Nothing of any session in the test's state dir and cgroup parent.
check_nothing_left() {
  check "session mounts left" "$(findmnt -rn -o TARGET | grep -c "^$state/mnt/")" 0
  check "volumes left" "$(ls "$state/volumes" 2>/dev/null | wc -l)" 0
  check "journal records left" "$(ls "$state/journal" 2>/dev/null | wc -l)" 0
  check "cgroups left" "$(find "$cgroup_parent" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)" 0
  check "processes of build uids left" "$(build_uid_processes | wc -l)" 0
}

builder_finish() {
  echo "$passes passed, $failures failed"
  exit $((failures > 0))
}
