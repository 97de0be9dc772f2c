# No user namespace: the sandbox ignores the range it is given, so the build
# is root of the host's user namespace again. Under the cgroup supervisor (no
# PID namespace) it signals verify's witness, a host process of uid 0, by
# its PID: the same uid needs no capability. Root of its own namespace gets
# EPERM there (issue 13, items 1 and 3).
# technique: signals_outside
# supervisor: cgroup
# leak: a SIGURG reached the host's witness process [0-9]+
mutate(snapcell/linux/supervisors.hpp [=[
    const bool user_namespace = spec.isolation.user_namespace.count > 0;
]=] [=[
    const bool user_namespace = false;
]=])
mutate(snapcell/linux/sandbox.hpp [=[
  plan.user_namespace = isolation.user_namespace.count > 0;
]=] [=[
  plan.user_namespace = false;
]=])
