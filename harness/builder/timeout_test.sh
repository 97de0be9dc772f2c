#!/usr/bin/env bash
# Issue 14, acceptance 4: `timeout -s TERM 2 snapcell build SDIST --base NAME`
# and `timeout -s INT 2 ...` (timeout(1) signals the whole process group, as
# a CI runner's cancellation and a terminal's Ctrl-C do) while the build is
# still running: the report says interrupted with the signal and exit
# 128+N, cleanup proved everything gone (the sentinel in snapcell's group
# alive), and the mounts, the cgroup parents and ps show nothing of it
# after, where they showed it during the build.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "$@"

show() {  # what the machine shows of builds: mounts, the cgroup parents' children, processes
  local mounts
  mounts=$(findmnt -rn -o TARGET | grep "^$state/" | sed "s|^$state/||" | tr '\n' ' ')
  echo "  findmnt:        below the state dir: ${mounts:-none}"
  for parent in $(cgroup_parent_dirs "$leaf"); do
    echo "  cgroup parent:  $parent: $(find "$parent" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l) child(ren)"
  done
  echo "  ps:             $(build_uid_processes | wc -l) process(es) of build uids," \
    "$(pgrep -c -f "^$snapcell build") snapcell build process(es)"
}

for sig in TERM INT; do
  echo "timeout -s $sig 2 snapcell build snapbad_slow-1.0.tar.gz --base $base"
  echo " before:"; show
  (sleep 1.3; echo " during (1.3 s):"; show) &
  timeout -s "$sig" 2 "${build[@]}" --timeout 60 --json "$scratch/sdists/snapbad_slow-1.0.tar.gz" >"$scratch/$sig.json"
  status=$?
  wait
  echo " after (timeout exited $status):"; show
  number=$(kill -l "$sig")
  check "SIG$sig: timeout's exit code (the command was signalled)" "$status" 124
  check "SIG$sig: snapcell's exit code in the report" "$(json_field "$scratch/$sig.json" .exit_code)" $((128 + number))
  check "SIG$sig: outcome" "$(json_field "$scratch/$sig.json" '"\(.outcome) \(.signal)"')" "interrupted SIG$sig"
  check "SIG$sig: the build was running when it came" "$(json_field "$scratch/$sig.json" .build.interrupted)" true
  check "SIG$sig: cleanup" "$(cleanup_line "$scratch/$sig.json")" "$clean_line"
  check "SIG$sig: mounts below the state dir besides its own two" \
    "$(findmnt -rn -o TARGET | grep "^$state/" | grep -vcE "^$state/mnt$")" 0
  check_nothing_left
  check "SIG$sig: snapcell processes left" "$(pgrep -c -f "^$snapcell build")" 0
done
builder_finish
