# A btrfs snapshot is handed out without its qgroup limit: one build can
# fill the filesystem every session (and the base) shares.
# technique: fills_disk
# supervisor: default
# leak: grew by [0-9]+ MiB, over the per-session cap of 128 MiB
# backend: btrfs
mutate(snapcell/linux/btrfs_volumes.hpp [=[
      if (exclusive_bytes_)
        if (Status capped = btrfs::limit_exclusive_bytes(snapshot_fd->get(), *exclusive_bytes_, shown); !capped)
]=] [=[
      if (false)
        if (Status capped = btrfs::limit_exclusive_bytes(snapshot_fd->get(), *exclusive_bytes_, shown); !capped)
]=])
