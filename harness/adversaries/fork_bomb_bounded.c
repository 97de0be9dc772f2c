/* fork_bomb_bounded: as many processes as the kernel lets it have.
 *
 * Tries: forks up to 2000 children that sleep, stops at the first failure
 * (EAGAIN when a pids limit bites), prints how many it made, and sleeps.
 * The bound keeps an uncontained run from hurting the host.
 *
 * Contained: the count stops at the unit's process limit where one is
 * enforced (pids.max), and every child dies with the build; the time the
 * supervisor takes to kill them all is the kill latency measured by the
 * harness. Every supervisor contains it (the children stay in the group).
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
      for (;;) sleep(1000);
    }
  }
  printf("fork_bomb_bounded: forked %d children%s%s\n", made, error ? ", stopped by " : "",
         error ? strerror(error) : "");
  fflush(stdout);
  for (;;) sleep(1000);
}
