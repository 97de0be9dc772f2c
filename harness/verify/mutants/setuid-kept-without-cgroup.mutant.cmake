# Without a cgroup the sandbox keeps CAP_SETUID: root of the namespace
# setuids each child to an id of its own, and RLIMIT_NPROC, which counts
# per real uid, starts afresh with every id: the fork bomb runs past the cap
# (issue 13, item 4; sandbox.hpp, LimitsHeldBy).
# technique: fork_bomb_bounded
# supervisor: pidns
# leak: peak [0-9]+ processes, over the cap of 64
mutate(snapcell/linux/sandbox.hpp [=[
  const std::uint64_t kept = rlimits_hold ? kept_capability_mask() & ~(std::uint64_t{1} << CAP_SETUID) : kept_capability_mask();
]=] [=[
  const std::uint64_t kept = kept_capability_mask();
]=])
