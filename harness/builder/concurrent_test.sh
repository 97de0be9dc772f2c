#!/usr/bin/env bash
# Issue 4, acceptance 5: 8 builds started at once on the same base all
# succeed, under 8 distinct session names and 8 distinct uids, and nothing
# of any of them is left.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "$@"

pids=()
for i in $(seq 8); do
  "${build_anywhere[@]}" --json --out "$scratch/out$i" "$scratch/sdists/snapdemo_pure-1.0.tar.gz" > "$scratch/build$i.json" &
  pids+=($!)
done
for i in $(seq 8); do
  wait "${pids[$((i - 1))]}"
  check "build $i: exit code" "$?" 0
  check "build $i: cleanup" "$(cleanup_line "$scratch/build$i.json")" "$clean_line"
done
check "distinct session names" "$(jq -r .session "$scratch"/build*.json | sort -u | wc -l)" 8
check "distinct build host uids" "$(jq -r .host_uid "$scratch"/build*.json | sort -u | wc -l)" 8
check "wheels" "$(ls "$scratch"/out*/snapdemo_pure-1.0-py3-none-any.whl | wc -l)" 8
check_nothing_left
builder_finish
