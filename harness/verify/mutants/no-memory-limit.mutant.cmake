# The memory cgroup's limit is never written: a build may take all the
# host's memory.
# technique: eats_memory
# supervisor: default
# leak: peak resident memory [0-9]+ MiB, over the limit of 256 MiB
mutate(snapcell/linux/cgroup.hpp [=[
  if (limits.max_memory_bytes > 0) {
]=] [=[
  if (false && limits.max_memory_bytes > 0) {
]=])
