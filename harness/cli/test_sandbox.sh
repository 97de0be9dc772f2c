# Sourced by the CLI's shell tests: a busybox base, and the cleanup that
# leaves nothing of the test's sessions behind (reap, the state dir's
# mounts, the test's cgroup parent, the scratch dir). Needs cgroup_parent.sh.

# make_busybox_base DIR APPLET...: DIR/bin/busybox and a link per applet.
make_busybox_base() {
  local base=$1 applet
  shift
  mkdir -p "$base"/{bin,proc,dev,tmp,etc}
  cp /bin/busybox "$base/bin/"
  for applet in "$@"; do ln -s busybox "$base/bin/$applet"; done
}

# remove_test_sessions SNAPCELL STATE CGROUP_PARENT LEAF SCRATCH
remove_test_sessions() {
  local snapcell=$1 state=$2 cgroup_parent=$3 leaf=$4 scratch=$5 dir
  "$snapcell" reap --state-dir "$state" --cgroup-parent "$cgroup_parent" >/dev/null 2>&1
  for dir in "$state/mnt" "$state"; do mountpoint -q "$dir" && umount "$dir"; done
  remove_test_cgroup_parent "$leaf" 2>/dev/null
  rm -rf "$scratch"
}
