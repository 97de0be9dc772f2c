#!/usr/bin/env bash
# Runs a host test against a mutant CLI; passes only when the test fails on
# the mutant with at least one of its checks ("FAIL ..." lines), not by
# being skipped or by failing to start.
#   expect-caught.sh <test script> <its arguments...>
set -uo pipefail
output=$("$@" 2>&1)
status=$?
echo "$output" | tail -25
if grep -q '^SKIPPED:' <<<"$output"; then exit 0; fi
failed=$(grep -c '^FAIL' <<<"$output")
if ((status != 0 && failed > 0)); then
  echo "mutant caught: $failed failed check(s)"
  exit 0
fi
echo "mutant NOT caught (exit $status, $failed failed checks)"
exit 1
