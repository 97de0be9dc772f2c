/* stops_itself: a build that is stopped (SIGSTOP) when the kill comes.
 *
 * Tries: ignores SIGTERM and SIGHUP, forks a child that does the same, and
 * both stop themselves with SIGSTOP. A stopped process does not act on
 * SIGTERM (it stays pending), and a sweep that waits for it to exit after
 * TERM waits forever; in a PID namespace, nsjail notes that stopped
 * processes may not die unless continued.
 *
 * Contained: both are gone after the deadline, by SIGKILL (which ends a
 * stopped process) or cgroup.kill. Every supervisor contains it.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  pid_t child = fork();
  if (child < 0) perror("fork");
  printf("stops_itself: %s stopping\n", child == 0 ? "child" : "parent");
  fflush(stdout);
  for (;;) raise(SIGSTOP);  /* a SIGCONT alone only wakes it to stop again */
}
