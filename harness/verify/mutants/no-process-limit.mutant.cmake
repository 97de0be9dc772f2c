# pids.max is never written: a fork bomb runs to the host's limits.
# technique: fork_bomb_bounded
# supervisor: default
# leak: peak [0-9]+ processes, over the cap of 64
mutate(snapcell/linux/cgroup.hpp [=[
  if (limits.max_processes > 0) {
]=] [=[
  if (false && limits.max_processes > 0) {
]=])
