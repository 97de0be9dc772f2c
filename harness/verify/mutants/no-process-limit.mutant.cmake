# pids.max is never written: a fork bomb runs to the host's limits. As the host's root (root of its
# own user namespace is also held, per uid, by RLIMIT_NPROC, which the host's root is exempt from).
# technique: fork_bomb_bounded
# supervisor: default
# userns: host
# leak: peak [0-9]+ processes, over the cap of 64
mutate(snapcell/linux/cgroup.hpp [=[
  if (limits.max_processes > 0) {
]=] [=[
  if (false && limits.max_processes > 0) {
]=])
