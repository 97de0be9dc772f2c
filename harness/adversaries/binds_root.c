/* binds_root: bind-mounts the sandbox's root into itself.
 *
 * Tries: mount --rbind / /mnt (the root inside itself, recursively), and a
 * second plain bind of /mnt onto /tmp, then sleeps with its cwd in the
 * nested copy. Were these mounts in the host's table, the snapshot could not
 * be unmounted (submounts keep it busy) and a recursive delete of the mount
 * point would recurse into the snapshot through the bind.
 *
 * Contained: the mounts exist only in the build's private mount namespace;
 * the host's mountinfo never shows them, and the teardown unmounts and
 * removes everything. Every supervisor contains it.
 */
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

int main(void) {
  if (mount("/", "/mnt", NULL, MS_BIND | MS_REC, NULL) != 0) perror("mount --rbind / /mnt");
  if (mount("/mnt", "/tmp", NULL, MS_BIND, NULL) != 0) perror("mount --bind /mnt /tmp");
  if (chdir("/mnt/mnt") != 0) perror("chdir /mnt/mnt");
  printf("binds_root: / bound on /mnt and /tmp\n");
  fflush(stdout);
  for (;;) sleep(1000);
}
