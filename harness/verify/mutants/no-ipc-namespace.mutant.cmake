# No IPC namespace: root inside finds the SysV segment verify made on the
# host by its key and removes it (uid 0 owns it: no capability needed).
# technique: removes_host_ipc
# supervisor: default
# userns: host
# leak: the host's SysV shared memory segment [0-9]+ \(key 0x[0-9a-f]+\) was removed
mutate(snapcell/linux/supervisors.hpp [=[
    const std::uint64_t flags = clone_newns | clone_newuts | clone_newipc | (UsesPidNamespace ? clone_newpid : 0) |
]=] [=[
    const std::uint64_t flags = clone_newns | clone_newuts | (UsesPidNamespace ? clone_newpid : 0) |
]=])
