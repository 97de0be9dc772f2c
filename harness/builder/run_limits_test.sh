#!/usr/bin/env bash
# Issue 13, item 4: `snapcell run` takes --disk, --max-processes and --memory,
# each backend holds the disk cap its own way (overlay: the layers' tmpfs;
# copy: the copy's own tmpfs beyond the copy), a write past it fails inside
# with ENOSPC while one within it succeeds, and the JSON report shows the
# limits and what holds them (build's too). On the builder's Debian base,
# as root in it.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "$@"

# Writes MIB of zeros to /var/fill in the snapshot; the exit status is dd's.
fill() {  # backend, disk cap MiB, MiB to write, report file
  "${run[@]}" --backend "$1" --disk "$2" --max-processes 100 --memory 512 --json \
    -- /bin/sh -c "dd if=/dev/zero of=/var/fill bs=1M count=$3 2>&1" > "$4"
}

for backend in overlay copy; do
  fill "$backend" 16 8 "$scratch/within-$backend.json"
  check "$backend: 8 MiB under a 16 MiB cap: exit" "$?" 0
  check "$backend: the report's disk cap" "$(json_field "$scratch/within-$backend.json" .limits.max_disk_bytes)" $((16 << 20))
  check "$backend: the report's process cap" "$(json_field "$scratch/within-$backend.json" .limits.max_processes)" 100
  check "$backend: the report's memory cap" "$(json_field "$scratch/within-$backend.json" .limits.max_memory_bytes)" $((512 << 20))
  check "$backend: the caps are held (default supervisor)" "$(json_field "$scratch/within-$backend.json" .limits.capped)" true
  check "$backend: clean" "$(json_field "$scratch/within-$backend.json" .clean)" true

  log="$scratch/over-$backend.log"
  "${run[@]}" --backend "$backend" --disk 16 --log "$log" --json \
    -- /bin/sh -c 'dd if=/dev/zero of=/var/fill bs=1M count=64 2>&1' > "$scratch/over-$backend.json"
  check "$backend: 64 MiB under a 16 MiB cap: exit (the command failed)" "$?" 1
  check "$backend: the command's own exit code" "$(json_field "$scratch/over-$backend.json" .build.exit_code)" 1
  check "$backend: dd was told ENOSPC" "$(grep -c 'No space left on device' "$log")" 1
  check "$backend: clean after the fill" "$(json_field "$scratch/over-$backend.json" .clean)" true
done

check "copy: the cap is said to be beyond the copy" \
  "$(json_field "$scratch/within-copy.json" .limits.disk_by)" "the copy's tmpfs, beyond the copy"
check "default: what holds the process cap" "$(json_field "$scratch/within-overlay.json" .limits.processes_by)" \
  "the session's cgroup (pids.max)"

# Without a cgroup (pidns) the sandbox holds what rlimits can: RLIMIT_DATA
# at the memory cap in each process, and one uid (CAP_SETUID cut) for
# RLIMIT_NPROC to count. Tried from inside, as root of the namespace.
"${run[@]}" --supervisor pidns --memory 64 --json -- /usr/bin/python3 -c 'bytearray(32 << 20)' > "$scratch/pidns.json"
check "pidns: 32 MiB under a 64 MiB cap: exit" "$?" 0
check "pidns: the caps are not session totals" "$(json_field "$scratch/pidns.json" .limits.capped)" false
check "pidns: what holds the process cap" "$(json_field "$scratch/pidns.json" .limits.processes_by)" \
  "RLIMIT_NPROC of the sandbox's one uid (no cgroup; CAP_SETUID cut)"
check "pidns: what holds the memory cap" "$(json_field "$scratch/pidns.json" .limits.memory_by)" \
  "RLIMIT_DATA of each process, not in total (no cgroup)"
"${run[@]}" --supervisor pidns --memory 64 --log "$scratch/pidns-memory.log" --json \
  -- /usr/bin/python3 -c 'bytearray(128 << 20)' > "$scratch/pidns-memory.json"
check "pidns: 128 MiB under a 64 MiB cap: exit (the command failed)" "$?" 1
check "pidns: python was told no" "$(grep -c MemoryError "$scratch/pidns-memory.log")" 1
setuid_to_5='import os; os.setuid(5); print("uid", os.getuid())'
"${run[@]}" --supervisor pidns --log "$scratch/pidns-setuid.log" --json -- /usr/bin/python3 -c "$setuid_to_5" \
  > "$scratch/pidns-setuid.json"
check "pidns: setuid inside refused (CAP_SETUID cut)" "$(grep -c 'PermissionError' "$scratch/pidns-setuid.log")" 1
"${run[@]}" --log "$scratch/default-setuid.log" --json -- /usr/bin/python3 -c "$setuid_to_5" > "$scratch/default-setuid.json"
check "default: setuid inside allowed (pids.max counts every uid)" "$(cat "$scratch/default-setuid.log")" "uid 5"
"${run[@]}" --supervisor pidns --userns host --json -- /bin/true > "$scratch/pidns-host.json"
check "pidns, host root: nothing holds the process cap, and the report says so" \
  "$(json_field "$scratch/pidns-host.json" .limits.processes_by)" \
  "nothing: this supervisor has no cgroup and the host's root is exempt from RLIMIT_NPROC"
"${build[@]}" --json --disk 64 --max-processes 200 "$scratch/sdists/snapprobe-1.0.tar.gz" > "$scratch/build.json"
check "build: exit" "$?" 0
check "build: the report's disk cap" "$(json_field "$scratch/build.json" .limits.max_disk_bytes)" $((64 << 20))
check "build: the report's process cap" "$(json_field "$scratch/build.json" .limits.max_processes)" 200
check "build: the report's memory cap (build's default)" "$(json_field "$scratch/build.json" .limits.max_memory_bytes)" \
  $((2048 << 20))
"${build_anywhere[@]}" --out "$scratch/out-pidns" --json --supervisor pidns "$scratch/sdists/snapprobe-1.0.tar.gz" \
  > "$scratch/build-pidns.json"
check "build, pidns: exit" "$?" 0
check "build, pidns: RLIMIT_NPROC holds the process cap (its user cannot change ids)" \
  "$(json_field "$scratch/build-pidns.json" .limits.processes_by)" \
  "RLIMIT_NPROC of the sandbox's one uid (no cgroup; CAP_SETUID cut)"
check "no copy tmpfs is left" "$(findmnt -rn -o SOURCE | grep -c '^snapcell-copy:')" 0
check_nothing_left
builder_finish
