/* ignores_term: refuses the polite request.
 *
 * Tries: ignores SIGTERM and SIGHUP and sleeps, so that a supervisor that
 * only sends SIGTERM (or waits forever for the build to go) never gets rid
 * of it.
 *
 * Contained: it is gone once the grace period ends, by SIGKILL (cgroup.kill,
 * the namespace's init, or the process group): every supervisor contains it.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  printf("ignores_term: ignoring TERM and HUP\n");
  fflush(stdout);
  for (;;) sleep(1000);
}
