# Without a cgroup RLIMIT_DATA is never set: nothing bounds a process's
# memory under the pidns supervisor (issue 13, item 4; sandbox.hpp,
# LimitsHeldBy).
# technique: eats_memory
# supervisor: pidns
# leak: peak resident memory [0-9]+ MiB, over the limit of 256 MiB
mutate(snapcell/linux/sandbox.hpp [=[
  plan.max_data_bytes = rlimits_hold ? static_cast<rlim_t>(spec.limits.max_memory_bytes) : 0;
]=] [=[
  plan.max_data_bytes = 0;
]=])
