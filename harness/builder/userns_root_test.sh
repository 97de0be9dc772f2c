#!/usr/bin/env bash
# Issue 13, item 1 and acceptance 3: `snapcell run --userns own` makes the
# command root of a user namespace of its own, its ids a range leased for
# the session, and shows it the snapshot through an idmapped mount: on the
# builder's Debian base, root there chowns, adds a user, installs a local
# .deb with dpkg and a local wheel with pip, as root does; the host's view
# of it is a leased id, never uid 0; and the base is bit for bit, owner for
# owner, what it was; on overlay (the default: its lower layer shifted) and
# copy (the snapshot idmapped). Then: it is the default, --userns host is the
# host's root, and the weak supervisors are let through for root of its own
# namespace only.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
builder_setup "$@"
export SNAPCELL_ID_LEASE_DIR="$scratch/id-leases"
base_root="$bases_dir/$base/root"

# Owners, modes, sizes, times and contents of every file of the base.
base_checksum() {
  [[ -d "$base_root/etc" ]] || { echo "no base at $base_root"; return; }
  (cd "$base_root" && find . -xdev -printf '%p %U:%G %m %s %T@ %l\n' | LC_ALL=C sort | sha256sum
   cd "$base_root" && find . -xdev -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum) | sha256sum
}
before=$(base_checksum)

inside=$(cat <<'SCRIPT'
set -e
# The sandbox's fixed PATH has no sbin; root's tools (useradd, ldconfig) live there.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
echo "uid $(id -u)"
echo "uid_map $(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
chown 1234:1234 /srv && echo "chown $(stat -c %u:%g /srv)"
useradd --create-home probeuser && echo "useradd $(id -u probeuser) $(stat -c %U /home/probeuser)"
mkdir -p /tmp/pkg/DEBIAN /tmp/pkg/usr/share/snapcell-probe
printf 'Package: snapcell-probe\nVersion: 1.0\nArchitecture: all\nMaintainer: snapcell <probe@example.invalid>\nDescription: probe\n' \
  > /tmp/pkg/DEBIAN/control
echo hello > /tmp/pkg/usr/share/snapcell-probe/hello
dpkg-deb --root-owner-group --build /tmp/pkg /tmp/snapcell-probe_1.0_all.deb > /dev/null
dpkg -i /tmp/snapcell-probe_1.0_all.deb > /dev/null
echo "dpkg $(dpkg-query -W -f '${Status}' snapcell-probe) $(cat /usr/share/snapcell-probe/hello)"
mkdir -p /tmp/wheel/userns_probe /tmp/wheel/userns_probe-1.0.dist-info
echo 'VALUE = "imported"' > /tmp/wheel/userns_probe/__init__.py
printf 'Metadata-Version: 2.1\nName: userns-probe\nVersion: 1.0\n' > /tmp/wheel/userns_probe-1.0.dist-info/METADATA
printf 'Wheel-Version: 1.0\nGenerator: snapcell-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
  > /tmp/wheel/userns_probe-1.0.dist-info/WHEEL
printf 'userns_probe/__init__.py,,\nuserns_probe-1.0.dist-info/METADATA,,\nuserns_probe-1.0.dist-info/WHEEL,,\nuserns_probe-1.0.dist-info/RECORD,,\n' \
  > /tmp/wheel/userns_probe-1.0.dist-info/RECORD
(cd /tmp/wheel && python3 -m zipfile -c /tmp/userns_probe-1.0-py3-none-any.whl userns_probe userns_probe-1.0.dist-info)
pip install --no-index --break-system-packages --no-cache-dir /tmp/userns_probe-1.0-py3-none-any.whl > /dev/null 2>&1
echo "pip $(cd / && python3 -c 'import userns_probe; print(userns_probe.VALUE)')"
SCRIPT
)

for backend in overlay copy; do
  log="$scratch/own-$backend.log"
  "${run[@]}" --backend "$backend" --userns own --log "$log" --json -- /bin/sh -c "$inside" > "$scratch/own-$backend.json"
  check "$backend: own user namespace: exit" "$?" 0
  echo "--- inside, $backend:"; cat "$log"; echo "---"
  first=$(json_field "$scratch/own-$backend.json" .user_namespace.first_host_id)
  check "$backend: the report names a range of 65536 ids" "$(json_field "$scratch/own-$backend.json" .user_namespace.count)" 65536
  check "$backend: the range is the user namespace pool's" \
    "$(( first >= 3200000000 && first < 4273741824 && (first - 3200000000) % 65536 == 0 ))" 1
  check "$backend: root inside" "$(grep -c '^uid 0$' "$log")" 1
  check "$backend: its map is the leased range" "$(grep -c "^uid_map 0 $first 65536\$" "$log")" 1
  check "$backend: chown" "$(grep -c '^chown 1234:1234$' "$log")" 1
  check "$backend: useradd, and the home is the new user's" "$(grep -c '^useradd 1000 probeuser$' "$log")" 1
  check "$backend: dpkg -i of a local .deb" "$(grep -c '^dpkg install ok installed hello$' "$log")" 1
  check "$backend: pip install of a local wheel" "$(grep -c '^pip imported$' "$log")" 1
  check "$backend: clean" "$(json_field "$scratch/own-$backend.json" .clean)" true
  check "$backend: the base is unchanged: contents, owners, modes, times" "$(base_checksum)" "$before"
done

# Seen from the host while it runs: the command's uid is the range's first.
"${run[@]}" --backend copy --userns own --json -- /bin/sleep 3 > "$scratch/sleep.json" &
runner=$!
host_uid=""
for _ in $(seq 100); do
  host_uid=$(ps -eo uid=,comm= | awk '$2 == "sleep" { u = $1 < 0 ? $1 + 4294967296 : $1 } u >= 3200000000 { printf "%.0f\n", u; exit }')
  [[ -n "$host_uid" ]] && break
  sleep 0.05
done
wait "$runner"
check "the sleeping command was seen from the host" "$([[ -n "$host_uid" ]] && echo yes)" yes
check "the sleeping command's host uid is its range's first" "$host_uid" "$(json_field "$scratch/sleep.json" .user_namespace.first_host_id)"

"${run[@]}" --json -- /bin/true > "$scratch/default.json"
check "the default (overlay) is root of its own user namespace" "$(json_field "$scratch/default.json" .user_namespace.count)" 65536
"${run[@]}" --userns host --json -- /bin/true > "$scratch/host.json"
check "--userns host: the host's root, no range" "$(json_field "$scratch/host.json" .user_namespace)" null
"${run[@]}" --backend copy --userns own --supervisor session --json -- /bin/true > "$scratch/session.json"
check "root of its own namespace may run under the session supervisor" "$?" 0
check "session: clean" "$(json_field "$scratch/session.json" .clean)" true

"${run[@]}" --backend copy --userns nobody -- /bin/true > /dev/null 2> "$scratch/bad.err"
check "an unknown --userns is refused" "$?" 2
check "...naming it" "$(grep -c "unknown user namespace 'nobody'" "$scratch/bad.err")" 1
check "no process runs as a leased id" \
  "$(ps -eo uid= | awk '{ u = $1 < 0 ? $1 + 4294967296 : $1 } u >= 3200000000 && u < 4273741824' | wc -l)" 0
check_nothing_left
builder_finish
