#!/usr/bin/env bash
# Issue 15, item 4: the sdists the archive checks accept (the good samples of
# the bad-sdist corpus, links with '..' among them) are extracted for real,
# inside a throwaway snapshot, as an unprivileged uid, the way the build
# driver unpacks them; every member is then where the check said it would
# be: same path, same type, a symlink with the same target, and nothing
# else appears. The one with links that go up and stay inside also builds.
#   $1-$4 as lib.sh, $5 snapcell-make-bad-sdists
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "${@:1:4}"
make_samples=$5
"$make_samples" "$scratch/corpus" > "$scratch/corpus.tsv"

# What the archive says, as "type path [target]" lines: f, d or l (a
# hardlink is a file); directories the archive implies are listed too.
listing_of_archive() {
  python3 - "$1" <<'PY'
import sys, tarfile, zipfile
path, seen = sys.argv[1], {}
def add(name, kind, target=""):
    name = name.rstrip("/")
    parts = name.split("/")
    for i in range(1, len(parts)):
        seen.setdefault("/".join(parts[:i]), ("d", ""))
    seen[name] = (kind, target)
if path.endswith(".zip"):
    for info in zipfile.ZipFile(path).infolist():
        add(info.filename, "d" if info.is_dir() else "f")
else:
    for m in tarfile.open(path):
        add(m.name, "d" if m.isdir() else "l" if m.issym() else "f", m.linkname if m.issym() else "")
for name in sorted(seen):
    kind, target = seen[name]
    print(kind, name, target)
PY
}

good=0
while IFS=$'\t' read -r verdict file expected what; do
  [[ $verdict == good ]] || continue
  good=$((good + 1))
  sdist="$scratch/corpus/$file"
  name=$(basename "$sdist")
  listing_of_archive "$sdist" > "$scratch/$name.expected"
  check "$name: the archive lists its members" "$(($(wc -l < "$scratch/$name.expected") >= 5))" 1
  # Inside: as nobody (65534), in a directory of its own, unpacked as the driver does.
  "${run[@]}" --copy-in "$sdist" --log "$scratch/$name.log" -- /bin/sh -c "
    mkdir /tmp/x && chown 65534:65534 /tmp/x && cd /tmp/x &&
    setpriv --reuid 65534 --regid 65534 --clear-groups python3 -c '
import os, shutil, sys
shutil.unpack_archive(\"/in/$name\", \"src\")
for root, dirs, files in os.walk(\"src\"):
    for entry in sorted(dirs + files):
        path = os.path.join(root, entry)
        kind = \"l\" if os.path.islink(path) else \"d\" if os.path.isdir(path) else \"f\"
        print(kind, path[4:], os.readlink(path) if kind == \"l\" else \"\")
'" > /dev/null 2>&1
  check "$name: extracted as an unprivileged uid" "$?" 0
  check "$name: every member where the check said, nothing else" \
    "$(sort "$scratch/$name.log" | diff - <(sort "$scratch/$name.expected") | head -5 | tr '\n' ' ')" ""
done < "$scratch/corpus.tsv"
check "good samples extracted" "$good" 4
# And the one whose links go up and stay inside builds, as a real project would.
"${build[@]}" --json "$scratch/corpus/good-tar-links-up/demo_uplinks-1.2.tar.gz" > "$scratch/uplinks.json"
check "demo_uplinks (links with '..' inside): exit code" "$?" 0
check "demo_uplinks: outcome" "$(json_field "$scratch/uplinks.json" .outcome)" built
check_nothing_left
builder_finish
