#!/usr/bin/env bash
# Issue 15, acceptance 1: every real sdist of ../shared/corpus builds on the
# base ci/demo makes (trixie with the backends of ci/demo-base-packages);
# structlog with a wheelhouse that snapcell itself made from
# hatch_fancy_pypi_readme's sdist (hatch-fancy-pypi-readme is in no Debian
# release). Every wheel carries its sdist's name and version, and installs
# and imports in a second throwaway snapshot of the same base.
#   $1-$4 as lib.sh (the base: the trixie one), $5 the corpus directory
set -uo pipefail
source "$(dirname "$0")/lib.sh"
corpus=${5:-}
if [[ ! -d "$corpus" ]]; then echo "SKIPPED: no corpus of real sdists at '$corpus'"; exit 0; fi
builder_setup "$@"

# The wheelhouse: built by snapcell from the plugin's own sdist.
plugin=$(ls "$corpus"/hatch_fancy_pypi_readme-*.tar.gz)
"${build_anywhere[@]}" --out "$scratch/wheelhouse" --json "$plugin" > "$scratch/plugin.json"
check "the plugin for the wheelhouse: exit code" "$?" 0

# Which module each project installs, to import it.
declare -A module=([six]=six [sampleproject]=sample [simplejson]=simplejson [idna]=idna [packaging]=packaging
                   [click]=click [markupsafe]=markupsafe [pluggy]=pluggy [structlog]=structlog
                   [hatch_fancy_pypi_readme]=hatch_fancy_pypi_readme)
for sdist in "$corpus"/*.tar.gz; do
  stem=$(basename "$sdist" .tar.gz)
  project=${stem%-*} version=${stem##*-}
  report="$scratch/$stem.json"
  "${build[@]}" --wheelhouse "$scratch/wheelhouse" --json "$sdist" > "$report"
  check "$stem: exit code" "$?" 0
  check "$stem: outcome" "$(json_field "$report" .outcome)" built
  check "$stem: cleanup" "$(cleanup_line "$report")" "$clean_line"
  wheel=$(json_field "$report" '.wheels[0].file')
  check "$stem: the wheel is the sdist's name and version" "$(basename "$wheel" | cut -d- -f1-2)" "$project-$version"
  name=${module[$project]:-}
  if [[ -z "$name" ]]; then check "$stem: a module to import is known" no yes; continue; fi
  "${run[@]}" --copy-in "$wheel" --log "$scratch/$stem.install.log" -- /bin/sh -c \
    "python3 -m pip install --no-index --no-deps --ignore-installed --break-system-packages --disable-pip-version-check -q /in/*.whl && python3 -c 'import importlib.metadata, $name; print(\"imported\", $name.__name__, importlib.metadata.version(\"$project\"))'" \
    > /dev/null 2>&1
  check "$stem: installs and imports in a second snapshot" "$?" 0
  # The base has Debian's own idna, packaging and pluggy: the version shows it is the wheel's.
  check "$stem: import said" "$(tail -1 "$scratch/$stem.install.log")" "imported $name $version"
done
check_nothing_left
builder_finish
