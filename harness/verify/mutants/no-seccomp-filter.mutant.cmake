# No seccomp filter: the calls that need no capability at all get through.
# add_key into root's user keyring needs none (keyrings belong to a uid of a
# user namespace, not to any namespace the build has of its own): the key
# shows in the host's /proc/keys.
# technique: uses_host_keyring
# supervisor: default
# userns: host
# leak: a key appeared in the host's keyrings
mutate(snapcell/linux/sandbox.hpp [=[
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &plan.seccomp_program, 0, 0) != 0) fail(plan, ChildStep::seccomp);
]=] [=[
]=])
