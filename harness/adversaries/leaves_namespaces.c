/* leaves_namespaces: makes new namespaces and joins others.
 *
 * Tries: unshare(CLONE_NEWUSER) (a user namespace of its own, with every
 * capability in it: the door to mounting, to namespaced sysctls and to the
 * kernel code behind them), unshare(CLONE_NEWNS), and setns to its own
 * mount namespace (a setns to any namespace whose fd it holds, the host's
 * included, takes CAP_SYS_ADMIN: with it, one open fd is the way out).
 *
 * Contained: EPERM for each (the seccomp filter denies setns and namespace
 * flags to unshare and clone; no CAP_SYS_ADMIN). Nothing shows on the host:
 * this probe's own report is the evidence.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  pid_t child = fork();
  if (child == 0) {  /* the user namespace in a child: the parent goes on as it was */
    probe("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
    _exit(0);
  }
  int status;
  waitpid(child, &status, 0);
  int fd = open("/proc/self/ns/mnt", O_RDONLY);
  if (fd >= 0) probe("setns to a mount namespace", setns(fd, CLONE_NEWNS));
  else probe_contained("open /proc/self/ns/mnt", errno);
  probe("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
  return 0;
}
