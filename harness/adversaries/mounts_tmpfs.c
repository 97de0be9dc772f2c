/* mounts_tmpfs: makes mounts of its own inside the sandbox.
 *
 * Tries: mounts a tmpfs on /mnt inside the root, and one over its /proc
 * (hiding the build's view of its processes), and sleeps. Were the mount to
 * land in the host's mount table, the snapshot could not be unmounted (a
 * submount keeps it busy) and the host would keep a mount nobody knows of.
 *
 * Contained: the mount exists only in the build's private mount namespace
 * (made rprivate, so it does not propagate) and vanishes with the namespace's
 * last process; the host's mountinfo never shows it. Every supervisor runs
 * the build in its own mount namespace, so every one contains it.
 */
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

int main(void) {
  if (mount("adversary", "/mnt", "tmpfs", 0, "size=1m") != 0) {
    perror("mount tmpfs on /mnt");
  } else {
    printf("mounts_tmpfs: tmpfs on /mnt\n");
  }
  if (mount("adversary", "/proc", "tmpfs", 0, "size=1m") != 0) {
    perror("mount tmpfs on /proc");
  } else {
    printf("mounts_tmpfs: tmpfs over /proc\n");
  }
  fflush(stdout);
  for (;;) sleep(1000);
}
