# pids.max is never written: a fork bomb runs to the host's limits.
# technique: fork_bomb_bounded
# supervisor: default
mutate(snapcell/linux/cgroup.hpp [=[
  if (limits.max_processes > 0) {
]=] [=[
  if (false && limits.max_processes > 0) {
]=])
