#!/usr/bin/env bash
# Issue 15, acceptance 2: the real sdists of ../shared/corpus on a base that
# lacks most of their build backends (the builder fixture: bookworm with
# setuptools 66, wheel and pip, no flit_core, hatchling or setuptools-scm).
# No build exits 0 with a wheel that is not the sdist's name and version,
# and every build that cannot run names the requirement it misses, in one
# line of its JSON report.
#   $1-$4 as lib.sh, $5 the corpus directory
set -uo pipefail
source "$(dirname "$0")/lib.sh"
corpus=${5:-}
if [[ ! -d "$corpus" ]]; then echo "SKIPPED: no corpus of real sdists at '$corpus'"; exit 0; fi
builder_setup "$@"

# The base's setuptools, asked in a throwaway snapshot (never in the base).
"${run[@]}" --log "$scratch/setuptools.log" -- python3 -c \
  'import importlib.metadata as m; print(m.version("setuptools"))' >/dev/null
setuptools_version=$(tail -1 "$scratch/setuptools.log")

# What each sdist declares (its pyproject.toml) against what the base has.
declare -A expected=(
  [six-1.17.0]="built"
  [sampleproject-4.0.0]="built"
  [simplejson-4.1.1]="built"
  [idna-3.13]="missing build requirement: flit_core >=3.11,<4 (base has none)"
  [packaging-26.4.dev0]="missing build requirement: flit_core >=3.12 (base has none)"
  [click-8.5.0.dev0]="missing build requirement: flit_core>=3.11,<4 (base has none)"
  [markupsafe-3.1.0.dev0]="missing build requirement: setuptools>=77 (base has $setuptools_version)"
  [pluggy-1.6.1.dev0]="missing build requirement: setuptools-scm[toml]>=8.0 (base has none)"
  [hatch_fancy_pypi_readme-25.2.0.dev0]="missing build requirement: hatchling (base has none)"
  [structlog-25.6.0.dev0]="missing build requirement: hatchling (base has none) and 2 more"
)

for sdist in "$corpus"/*.tar.gz; do
  stem=$(basename "$sdist" .tar.gz)
  want=${expected[$stem]:-}
  if [[ -z "$want" ]]; then check "$stem: in the expectation table" "no" "yes"; continue; fi
  report="$scratch/$stem.json"
  "${build[@]}" --json "$sdist" > "$report"
  status=$?
  if [[ "$want" == built ]]; then
    check "$stem: exit code" "$status" 0
    check "$stem: outcome" "$(json_field "$report" .outcome)" built
  else
    check "$stem: exit code" "$status" 1
    check "$stem: outcome" "$(json_field "$report" .outcome)" build_failed
    check "$stem: reason" "$(json_field "$report" .reason)" "$want"
    check "$stem: requirements named in the JSON" "$(json_field "$report" '.missing_requirements | length > 0')" true
  fi
  # Whatever happened: every wheel handed out is the sdist's project and version.
  project=${stem%-*} version=${stem##*-}
  for wheel in $(json_field "$report" '.wheels[].file'); do
    name=$(basename "$wheel")
    check "$stem: wheel $name is the sdist's" "$(cut -d- -f1-2 <<<"$name")" "$project-$version"
  done
  check "$stem: cleanup" "$(cleanup_line "$report")" "$clean_line"
done
check_nothing_left
builder_finish
