#!/usr/bin/env bash
# Issue 4, acceptance 1: the three honest samples (setup.py, pyproject.toml,
# a C extension) build into wheels, and each wheel installs and imports in a
# second throwaway snapshot of the same base.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "$@"

for sample in snapdemo_pure snapdemo_toml snapdemo_cext; do
  "${build[@]}" --json "$scratch/sdists/$sample-1.0.tar.gz" > "$scratch/$sample.json"
  check "$sample: exit code" "$?" 0
  check "$sample: outcome" "$(json_field "$scratch/$sample.json" .outcome)" built
  check "$sample: cleanup" "$(cleanup_line "$scratch/$sample.json")" "$clean_line"
  wheel=$(json_field "$scratch/$sample.json" '.wheels[0].file')
  check "$sample: one wheel, sha256 as reported" \
    "$(sha256sum "$wheel" | cut -d' ' -f1)" "$(json_field "$scratch/$sample.json" '.wheels[0].sha256')"
  # The wheel in a second snapshot: pip installs it offline, Python imports it.
  output=$("${run[@]}" --copy-in "$wheel" --log "$scratch/$sample.install.log" -- /bin/sh -c \
    "python3 -m pip install --no-index --no-deps --break-system-packages --disable-pip-version-check -q /in/*.whl && python3 -c 'import $sample; print($sample.hello())'" 2>&1)
  check "$sample: installed and imported in a second snapshot" "$?" 0
  check "$sample: hello()" "$(tail -1 "$scratch/$sample.install.log")" "$(case $sample in
    snapdemo_cext) echo "hello from snapdemo_cext: 2 + 3 = 5" ;;
    *) echo "hello from $sample" ;;
  esac)"
  [[ -n "$output" ]] && echo "$output"
done
check_nothing_left
builder_finish
