/* fork_during_kill: escapes while it is being killed.
 *
 * Tries: sleeps; on SIGTERM it forks a child that calls setsid() and sleeps
 * 1000 s, waits (on a pipe) until the child has left the group, then exits.
 * A sweep that listed the members before the SIGTERM, or that looks for the
 * process group afterwards, misses the newborn.
 *
 * Contained: the child is born inside the build's cgroup or PID namespace and
 * dies with it (cgroup.kill covers processes forked while it runs). The
 * session supervisor leaks it, by design.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static int escaped[2];

static void on_term(int signal) {
  (void)signal;
  pid_t child = fork();
  if (child == 0) {
    close(escaped[0]);
    setsid();
    close(escaped[1]);
    for (;;) sleep(1000);
  }
  close(escaped[1]);
  char byte;
  while (child > 0 && read(escaped[0], &byte, 1) > 0) {
  }
  _exit(0);
}

int main(void) {
  if (pipe(escaped) != 0) {
    perror("pipe");
    return 1;
  }
  struct sigaction action = {0};
  action.sa_handler = on_term;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, NULL);
  printf("fork_during_kill: waiting for SIGTERM\n");
  fflush(stdout);
  for (;;) sleep(1000);
}
