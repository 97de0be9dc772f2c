# The cgroup supervisor never writes cgroup.kill: after the polite SIGTERM
# nothing ends a member that does not act on it (stopped, or ignoring it).
# technique: stops_itself
# supervisor: cgroup
# leak: process\(es\) left:
mutate(snapcell/linux/supervisors.hpp [=[
    if (UsesCgroup && unit.cgroup_dir != "-") first = cgroup_kill(unit.cgroup_dir);
]=] [=[
]=])
