# A full copy keeps the tmpfs it was made in at tmpfs's default size (half
# of RAM) instead of the copy plus the write cap: one build can fill memory
# every session (and the host) shares.
# technique: fills_disk
# supervisor: default
# leak: grew by [0-9]+ MiB, over the per-session cap of 128 MiB beyond the [0-9]+ MiB copy
# backend: copy
mutate(snapcell/linux/copy_volumes.hpp [=[
    if (::mount(nullptr, tree.c_str(), nullptr, MS_REMOUNT | MS_NOSUID | MS_NODEV, options.c_str()) != 0)
]=] [=[
    if (false)
]=])
