/* fork_bomb_bounded: as many processes as the kernel lets it have.
 *
 * Tries: forks up to 2000 children that sleep, stops at the first failure
 * (EAGAIN when a pids limit bites), prints how many it made, and sleeps.
 * Each child first tries setuid to an id of its own (40000 + its number):
 * RLIMIT_NPROC counts processes per real uid, so a root that may setuid
 * would start a fresh count with every id. The bound keeps an uncontained
 * run from hurting the host.
 *
 * Contained: the count stops at the unit's process limit, pids.max of a
 * cgroup or, without one, RLIMIT_NPROC of the one uid the sandbox keeps
 * (CAP_SETUID cut, so the setuid fails), and every child dies with the
 * build; the time the supervisor takes to kill them all is the kill
 * latency measured by the harness.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  int made = 0;
  int error = 0;
  for (; made < 2000; ++made) {
    pid_t child = fork();
    if (child < 0) {
      error = errno;
      break;
    }
    if (child == 0) {
      (void)setuid(40000 + made);
      for (;;) sleep(1000);
    }
  }
  printf("fork_bomb_bounded: forked %d children%s%s\n", made, error ? ", stopped by " : "",
         error ? strerror(error) : "");
  fflush(stdout);
  for (;;) sleep(1000);
}
