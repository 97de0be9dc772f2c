#!/usr/bin/env bash
# Issue 4, acceptance 2: each misbehaving sample ends with the right exit
# code and report; afterwards nothing of its session is left (processes,
# mounts, volumes, cgroups, network namespace: the report's own look, and
# this test's); the base is byte-for-byte unchanged; nothing was written
# outside the snapshot; a listener on the host's loopback saw no connection.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "${@:1:4}"
listener=$5   # the connection counter (count_connections PORT FILE)

base_sum() { tar -C "$bases_dir/$base/root" --sort=name --numeric-owner -cf - . | sha256sum | cut -d' ' -f1; }
before=$(base_sum)
"$listener" 47913 "$scratch/connections" &
listener_pid=$!
trap 'kill "$listener_pid" 2>/dev/null; wait "$listener_pid" 2>/dev/null; builder_cleanup' EXIT
for _ in $(seq 100); do [[ -f "$scratch/connections" ]] && break; sleep 0.05; done

expect() {  # sample, exit code, outcome, timed_out
  local sample=$1
  "${build[@]}" --json --timeout 8 --grace 1 "$scratch/sdists/$sample-1.0.tar.gz" > "$scratch/$sample.json"
  check "$sample: exit code" "$?" "$2"
  check "$sample: outcome" "$(json_field "$scratch/$sample.json" .outcome)" "$3"
  check "$sample: killed at the deadline" "$(json_field "$scratch/$sample.json" .build.timed_out)" "$4"
  check "$sample: cleanup" "$(cleanup_line "$scratch/$sample.json")" "$clean_line"
  check "$sample: remains" "$(json_field "$scratch/$sample.json" '.remains | length')" 0
}
expect snapbad_daemon 1 build_failed false  # at once, not at the deadline: it only waited on its leftover
expect snapbad_term 1 build_failed true
expect snapbad_net 1 build_failed false
expect snapbad_write 0 built false
expect snapbad_slow 1 build_failed true
expect snapbad_forkbomb 1 build_failed true

log_of() { json_field "$scratch/$1.json" .log; }
check "snapbad_daemon: the reason names what it left" \
  "$(json_field "$scratch/snapbad_daemon.json" .reason | sed -E 's/^left [0-9]+ process\(es\) behind after the backend returned$/left N behind/')" \
  "left N behind"
check "snapbad_daemon: its daemon was left behind by the build" "$(grep -c 'left a daemon behind' "$(log_of snapbad_daemon)")" 2
check "snapbad_net: loopback inside refused, the outside unreachable" \
  "$(grep -c 'unreachable' "$(log_of snapbad_net)")" 3
check "snapbad_write: every write outside its tree refused" \
  "$(grep -c 'write: refused' "$(log_of snapbad_write)") $(grep -c 'write: wrote' "$(log_of snapbad_write)")" "10 0"
check "snapbad_forkbomb: it did fork" "$(grep -c 'forkbomb: forking' "$(log_of snapbad_forkbomb)")" 1
check "the listener on the host's loopback saw" "$(cat "$scratch/connections")" 0
check "the base, byte for byte" "$(base_sum)" "$before"
check "host files the samples aimed at" "$(ls /etc/snapcell-pwned /snapcell-pwned /usr/snapcell-pwned 2>/dev/null | wc -l)" 0
check_nothing_left
builder_finish
