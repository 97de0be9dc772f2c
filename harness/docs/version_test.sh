#!/usr/bin/env bash
# unit/version-flag-prints-the-project-version: `snapcell --version` prints
# "snapcell <version>", the version of CMake's project(), and exits 0.
#   version_test.sh SNAPCELL PROJECT_VERSION
set -euo pipefail
if [[ $# -ne 2 || -z "$2" ]]; then
  echo "usage: $0 SNAPCELL PROJECT_VERSION" >&2
  exit 2
fi
status=0
out=$("$1" --version) || status=$?
if [[ $status -ne 0 ]]; then
  echo "snapcell --version exited $status"
  exit 1
fi
if [[ "$out" != "snapcell $2" ]]; then
  echo "snapcell --version printed '$out', not 'snapcell $2'"
  exit 1
fi
echo "snapcell --version: $out"
