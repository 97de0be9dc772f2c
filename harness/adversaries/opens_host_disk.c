/* opens_host_disk: makes a device node for the host's root disk, reads it,
 * mounts it.
 *
 * Usage: opens_host_disk MAJOR MINOR (the device of the host's `/`, which
 * verify passes in).
 * Tries: mknod of that block device in /dev, /tmp and / (every filesystem
 * of the sandbox), an open and a read of its first sector, and a mount of
 * it read-only on /mnt (unmounted at once, the node removed). With the node
 * open, root reads and writes every file of the host.
 *
 * Contained: mknod EPERM (no CAP_MKNOD), or the node does not open (EACCES:
 * every filesystem of the sandbox is nodev), or the mount is refused (EPERM:
 * no CAP_SYS_ADMIN, mount denied by the seccomp filter).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "probe.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: opens_host_disk MAJOR MINOR\n");
    return 2;
  }
  const dev_t disk = makedev(strtoul(argv[1], 0, 10), strtoul(argv[2], 0, 10));
  const char* nodes[] = {"/dev/snapcell-disk", "/tmp/snapcell-disk", "/snapcell-disk"};
  for (int i = 0; i < 3; ++i) {
    char what[96];
    snprintf(what, sizeof what, "mknod %s", nodes[i]);
    if (!probe(what, mknod(nodes[i], S_IFBLK | 0600, disk))) continue;
    int fd = open(nodes[i], O_RDONLY);
    snprintf(what, sizeof what, "open %s", nodes[i]);
    if (probe(what, fd)) {
      char sector[512];
      snprintf(what, sizeof what, "read the host's disk through %s", nodes[i]);
      probe(what, read(fd, sector, sizeof sector));
      close(fd);
    }
    snprintf(what, sizeof what, "mount %s", nodes[i]);
    const char* types[] = {"ext4", "xfs", "btrfs"};
    for (int t = 0; t < 3; ++t)
      if (mount(nodes[i], "/mnt", types[t], MS_RDONLY, 0) == 0) {
        probe_reached(what);
        umount2("/mnt", MNT_DETACH);
        break;
      } else if (t == 2) {
        probe_contained(what, errno);
      }
    unlink(nodes[i]);
  }
  return 0;
}
