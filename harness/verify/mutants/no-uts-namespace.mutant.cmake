# No UTS namespace: the sandbox's own naming of the machine ("snapcell")
# renames the host, for every technique; verify sees the host's name change
# from outside (and puts it back).
# technique: sets_hostname
# supervisor: default
# userns: host
# leak: the host's name changed to 'snapcell'
mutate(snapcell/linux/supervisors.hpp [=[
    const std::uint64_t flags = clone_newns | clone_newuts | clone_newipc | (UsesPidNamespace ? clone_newpid : 0) |
]=] [=[
    const std::uint64_t flags = clone_newns | clone_newipc | (UsesPidNamespace ? clone_newpid : 0) |
]=])
