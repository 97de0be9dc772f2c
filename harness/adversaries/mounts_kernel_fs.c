/* mounts_kernel_fs: mounts new instances of the kernel's filesystems.
 *
 * Tries: a new proc, sysfs, cgroup2 and binfmt_misc, each on a directory of
 * its own below /tmp, unmounted at once. A fresh proc has no read-only
 * /proc/sys nor masked /proc/kcore; sysfs shows (and with root, changes)
 * the host's devices; cgroup2 the whole host's hierarchy; binfmt_misc lets
 * root register an interpreter that the host's kernel runs for matching
 * programs.
 *
 * Contained: EPERM for each (no CAP_SYS_ADMIN; mount denied by the seccomp
 * filter). The mounts would be in the build's own mount namespace: nothing
 * shows on the host, and this probe's own report is the evidence.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "probe.h"

int main(void) {
  const char* types[] = {"proc", "sysfs", "cgroup2", "binfmt_misc"};
  for (int i = 0; i < 4; ++i) {
    char dir[64], what[64];
    snprintf(dir, sizeof dir, "/tmp/snapcell-%s", types[i]);
    snprintf(what, sizeof what, "mount a new %s", types[i]);
    mkdir(dir, 0755);
    if (probe(what, mount(types[i], dir, types[i], 0, 0))) umount2(dir, MNT_DETACH);
  }
  return 0;
}
