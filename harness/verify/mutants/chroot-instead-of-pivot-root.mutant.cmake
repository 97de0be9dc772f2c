# chroot(".") instead of pivot_root with the old root detached: the host's
# tree stays in the build's mount namespace, one chroot-and-climb away.
# technique: chroot_escape
# supervisor: default
# userns: host
# leak: reached the host's tree: created
mutate(snapcell/linux/sandbox.hpp [=[
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail(plan, ChildStep::pivot_root);
  if (::umount2(".", MNT_DETACH) != 0) fail(plan, ChildStep::detach_old_root);
]=] [=[
  if (::chroot(".") != 0) fail(plan, ChildStep::pivot_root);
]=])
