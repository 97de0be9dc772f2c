#!/usr/bin/env bash
# The builder tests' bases: made by `snapcell base create` (debootstrap from
# the machine's mirror, a minute or two) the first time, and reused while
# the build tree lives.
#   base_fixture.sh <snapcell binary> <bases dir> <base name> [<suite> <packages file>]
# With a suite and a file of extra packages (one per line, '#' comments),
# the base is that suite with those packages too (ci/demo-base-packages).
set -euo pipefail
snapcell=$1 bases_dir=$2 base=$3 suite=${4:-} packages_file=${5:-}
if ((EUID != 0)); then echo "SKIPPED: needs root"; exit 0; fi
if [[ -f "$bases_dir/$base/base.json" ]]; then
  echo "base $base exists: $("$snapcell" base list --bases-dir "$bases_dir" | grep "^$base ")"
  exit 0
fi
extra=()
if [[ -n "$suite" ]]; then
  extra=(--suite "$suite")
  include=$(grep -v '^#' "$packages_file" | grep . | paste -sd, -)
  [[ -n "$include" ]] && extra+=(--include "$include")
fi
"$snapcell" base create "$base" --bases-dir "$bases_dir" "${extra[@]}"
"$snapcell" base list --bases-dir "$bases_dir"
