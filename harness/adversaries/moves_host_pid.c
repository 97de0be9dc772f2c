/* moves_host_pid: moves a process of the host into the build's own cgroup.
 *
 * Usage: moves_host_pid PID (verify's witness process, on the host).
 * Tries: mounts cgroup2 on /tmp/snapcell-cgroup and writes PID into
 * cgroup.procs there (the root of the build's cgroup namespace: its own
 * leaf). A host process in the build's leaf is killed with it by
 * cgroup.kill; the reverse (the build moving itself out) makes the leaf's
 * "populated 0" a false proof. Verify checks the witness's cgroup from
 * outside, and moves it back if it moved.
 *
 * Contained: the mount is refused (EPERM: no CAP_SYS_ADMIN, the seccomp
 * filter), or the write is (ENOENT/ESRCH: not in the build's cgroup or PID
 * namespace); and the witness stayed where it was.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: moves_host_pid PID\n");
    return 2;
  }
  mkdir("/tmp/snapcell-cgroup", 0755);
  if (!probe("mount cgroup2", mount("cgroup2", "/tmp/snapcell-cgroup", "cgroup2", 0, 0))) return 0;
  int fd = open("/tmp/snapcell-cgroup/cgroup.procs", O_WRONLY);
  if (fd < 0) {
    probe_contained("open cgroup.procs", errno);
  } else {
    probe("write a host PID to its own cgroup.procs", write(fd, argv[1], strlen(argv[1])));
    close(fd);
  }
  umount2("/tmp/snapcell-cgroup", MNT_DETACH);
  return 0;
}
