#!/usr/bin/env bash
# Issue 15, acceptance 4: `snapcell build SDIST... --jobs 2` builds every sdist
# of ../shared/corpus, each in its own snapshot, two at a time: one progress
# line per build, a closing table of all of them, JSON Lines with --json
# (one snapcell.build/1 report per sdist, counts equal to the table's), the
# batch's exit code from the worst build, and nothing left afterwards.
#   $1-$4 as lib.sh, $5 the corpus directory
set -uo pipefail
source "$(dirname "$0")/lib.sh"
corpus=${5:-}
if [[ ! -d "$corpus" ]]; then echo "SKIPPED: no corpus of real sdists at '$corpus'"; exit 0; fi
builder_setup "$@"
sdists=("$corpus"/*.tar.gz)

"${build[@]}" --jobs 2 "${sdists[@]}" > "$scratch/table" 2> "$scratch/progress"
status=$?
cat "$scratch/table"
# This base lacks most backends (corpus_on_plain_base_test.sh): some fail.
check "batch exit code: some failed" "$status" 1
check "one progress line per sdist" "$(grep -c '^\[[0-9]*/[0-9]*\] ' "$scratch/progress")" "${#sdists[@]}"
check "table rows, one per sdist" "$(grep -c '\.tar\.gz ' "$scratch/table")" "${#sdists[@]}"
check "closing line" "$(tail -1 "$scratch/table" | sed -E 's/ in [0-9.]+ s//')" \
  "3 of ${#sdists[@]} built, ${#sdists[@]} finished with --jobs 2"

"${build[@]}" --jobs 2 --json "${sdists[@]}" > "$scratch/lines" 2>/dev/null
check "JSON Lines: one report per sdist" "$(jq -c . "$scratch/lines" | wc -l)" "${#sdists[@]}"
check "JSON Lines: every one snapcell.build/1" "$(jq -r .schema "$scratch/lines" | sort -u)" "snapcell.build/1"
check "JSON Lines: built as in the table" "$(jq -r 'select(.outcome == "built") | .sdist.path' "$scratch/lines" | wc -l)" 3
check "JSON Lines: every report's cleanup" "$(jq -r '.cleanup | "\(.processes_left) \(.mounts_left) \(.cgroups_left) \(.volume_removed)"' "$scratch/lines" | sort -u)" "0 0 0 true"

# Bad input anywhere in the batch: refused before any build starts.
: > "$scratch/not-an-sdist.txt"
"${build_anywhere[@]}" --out "$scratch/bad-out" --jobs 2 "${sdists[0]}" "$scratch/not-an-sdist.txt" \
  > "$scratch/bad.out" 2> "$scratch/bad.err"
check "a bad name in the batch: exit" "$?" 2
check "a bad name in the batch: one line" "$(wc -l < "$scratch/bad.err")" 1
check "a bad name in the batch: nothing built" "$(ls -A "$scratch/bad-out" 2>/dev/null | wc -l)" 0
check_nothing_left
builder_finish
