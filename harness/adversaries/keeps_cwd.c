/* keeps_cwd: holds a directory of the sandbox as its working directory.
 *
 * Tries: chdir("/tmp") inside the root and sleeps, so that its cwd keeps the
 * build's filesystems busy (an unmount of the snapshot fails with EBUSY while
 * any process has its cwd or root there).
 *
 * Contained: it is killed with the build, and the teardown can unmount; no
 * process is left whose cwd or root is in the build's root. Every supervisor
 * contains it (it never leaves the process group).
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  if (chdir("/tmp") != 0) {
    perror("chdir /tmp");
    return 1;
  }
  printf("keeps_cwd: cwd is /tmp\n");
  fflush(stdout);
  for (;;) sleep(1000);
}
