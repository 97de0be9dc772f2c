# The capability bounding set and the build's sets are left as the
# controller's: root inside holds CAP_SYS_PTRACE over the host's processes
# (and MKNOD, SYS_TIME, ...). Under the cgroup supervisor (no PID namespace)
# it attaches to verify's witness process on the host, which sees its tracer.
# technique: ptraces_outside
# supervisor: cgroup
# userns: host
# leak: the host's witness process [0-9]+ was traced \(ptrace\)
mutate(snapcell/linux/sandbox.hpp [=[
  cut_bounding_set(plan);
  drop_identity(plan);
  if (::chdir(plan.working_dir.c_str()) != 0) fail(plan, ChildStep::working_dir);
  cut_capability_sets(plan);
]=] [=[
  drop_identity(plan);
  if (::chdir(plan.working_dir.c_str()) != 0) fail(plan, ChildStep::working_dir);
]=])
