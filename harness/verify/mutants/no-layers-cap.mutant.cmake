# The overlay's layers are a plain directory in the shared scratch dir, not
# a size-capped tmpfs of their own: one build can fill what every session
# (and the host) shares.
# technique: fills_disk
# supervisor: default
# leak: grew by [0-9]+ MiB, over the per-session cap of 128 MiB
mutate(snapcell/linux/overlay_volumes.hpp [=[
    if (::mount(layers_source_of(name).c_str(), layers.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
      return errno_error("mount(tmpfs)", layers);
    if (::mount(nullptr, layers.c_str(), nullptr, MS_PRIVATE, nullptr) != 0) {
]=] [=[
    if (false) {
]=])
