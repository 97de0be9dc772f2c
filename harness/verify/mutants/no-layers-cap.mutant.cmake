# The overlay's layers are a plain directory in the shared scratch dir, not
# a size-capped tmpfs of their own: one build can fill what every session
# (and the host) shares.
# technique: fills_disk
# supervisor: default
# leak: grew by [0-9]+ MiB, over the per-session cap of 128 MiB
mutate(snapcell/linux/overlay_volumes.hpp [=[
    return scratch_volumes::mount_own_tmpfs(layers_source_of(name), layers, layers_bytes_);
]=] [=[
    return {};
]=])
