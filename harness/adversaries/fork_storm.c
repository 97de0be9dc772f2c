/* fork_storm: forks in a loop, during the kill and before it.
 *
 * Tries: ignores SIGTERM and SIGHUP, then forever forks a child and exits, so
 * that the one live process changes its PID every few microseconds. A sweep
 * that lists the members and then signals each one signals PIDs that have
 * already gone, while the newest child lives on. It stays in its process
 * group, so killpg() semantics would get it; listing-based sweeps race it.
 *
 * Contained: cgroup.kill kills the cgroup atomically, whatever forks; a PID
 * namespace dies with its init. Nothing of it is left. Under the session
 * supervisor it may or may not be caught, depending on the race.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  printf("fork_storm: forking in a loop\n");
  fflush(stdout);
  for (;;) {
    pid_t child = fork();
    if (child > 0) _exit(0);  /* the parent goes; the child carries on */
    if (child < 0) usleep(1000);  /* at the process cap: try again */
  }
}
