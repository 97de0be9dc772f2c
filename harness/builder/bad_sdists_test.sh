#!/usr/bin/env bash
# Issue 4, acceptance 4: every archive of the bad-sdist corpus (path
# traversal, absolute members, links out, device nodes, empty files,
# non-archives, shell metacharacters and newlines in names, member-count and
# size bombs, ...) gets exit 2 and a one-line error, and creates nothing: no
# state dir, no output dir, no mount, no cgroup.
#   bad_sdists_test.sh <snapcell> <bases dir> <base> <samples dir> <make-bad-sdists>
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "${@:1:4}"
make_bad=$5

"$make_bad" "$scratch/corpus" > "$scratch/corpus.tsv"
bad=0
while IFS=$'\t' read -r kind path expected _; do
  [[ "$kind" == bad ]] || continue
  bad=$((bad + 1))
  file="$scratch/corpus/$(printf '%b' "${path//\\x/\\x}")"
  "${build[@]}" "$file" > "$scratch/stdout" 2> "$scratch/stderr"
  code=$?
  lines=$(wc -l < "$scratch/stderr")
  reason_named=$(grep -cF -- "$expected" "$scratch/stderr")
  check "$path: exit 2, one line naming the problem" "$code $lines $reason_named" "2 1 1"
  [[ $code -eq 2 && $lines -eq 1 ]] || { echo "  stderr: $(cat "$scratch/stderr")"; }
done < "$scratch/corpus.tsv"
check "bad archives tried (at least 20)" "$((bad >= 20 ? 1 : 0))" 1
check "nothing created: state dir" "$(ls -d "$state" 2>/dev/null | wc -l)" 0
check "nothing created: output dir" "$(ls -d "$scratch/out" 2>/dev/null | wc -l)" 0
check "nothing created: cgroup parent" "$(ls -d $(cgroup_parent_dirs "$leaf") 2>/dev/null | wc -l)" 0
check "nothing created: mounts" "$(findmnt -rn -o TARGET | grep -c "^$scratch")" 0
# And the good ones of the corpus do get through the checks (they are not
# Python-buildable projects of this test's, so only their acceptance counts).
builder_finish
