#!/usr/bin/env bash
# The builder tests' base: a Debian base made by `snapcell base create`
# (debootstrap from the machine's mirror, a few minutes) the first time, and
# reused while the build tree lives.
#   base_fixture.sh <snapcell binary> <bases dir> <base name>
set -euo pipefail
snapcell=$1 bases_dir=$2 base=$3
if ((EUID != 0)); then echo "SKIPPED: needs root"; exit 0; fi
if [[ -f "$bases_dir/$base/base.json" ]]; then
  echo "base $base exists: $("$snapcell" base list --bases-dir "$bases_dir" | grep "^$base ")"
  exit 0
fi
"$snapcell" base create "$base" --bases-dir "$bases_dir"
"$snapcell" base list --bases-dir "$bases_dir"
