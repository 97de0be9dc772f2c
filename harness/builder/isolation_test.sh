#!/usr/bin/env bash
# Issue 4, acceptance 3: inside the build `id -u` is not 0, the host's
# processes are invisible (a sentinel with a distinctive name runs on the
# host meanwhile), and a classic chroot escape (mkdir, chroot into it, chdir
# upwards, chroot .) fails and leaves the build in its own root.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "$@"

bash -c 'exec -a snapcell-host-sentinel sleep 300' &
sentinel=$!
trap 'kill "$sentinel" 2>/dev/null; wait "$sentinel" 2>/dev/null; builder_cleanup' EXIT

"${build[@]}" --json "$scratch/sdists/snapprobe-1.0.tar.gz" > "$scratch/probe.json"
check "probe: exit code" "$?" 0
log=$(json_field "$scratch/probe.json" .log)
uid=$(grep -m1 'probe: uid' "$log" | awk '{print $3}')
check "probe: uid is the build's own, not 0" "$uid" "$(json_field "$scratch/probe.json" .uid)"
check "probe: uid is not root" "$([[ "$uid" != 0 && -n "$uid" ]] && echo not-root)" not-root
processes=$(grep -m1 'probe: processes' "$log")
echo "$processes"
check "probe: sees only its init, the build driver and setup.py" "$(awk '{print ($3 >= 2 && $3 <= 5) ? "a few" : $3}' <<<"$processes")" "a few"
check "probe: the host sentinel is invisible" "$(grep -c 'snapcell-host-sentinel\|sleep' <<<"$processes")" 0
check "probe: the host's init is invisible" "$(grep -Eo ' 1:[a-z]+' <<<"$processes")" " 1:snapcell"
check "probe: chroot escape failed" "$(grep -m1 -c 'chroot escape: failed' "$log")" 1
check "probe: its root is still the base's" "$(grep -m1 'probe: root lists' "$log" | sed 's/.*probe: root lists //')" \
  "$( (ls -A "$bases_dir/$base/root"; echo build) | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//')"
check "the host sentinel is alive" "$(kill -0 "$sentinel" && echo alive)" alive
check_nothing_left
builder_finish
