/* signals_outside: signals a process outside the build by its PID.
 *
 * Usage: signals_outside PID (verify's witness process, on the host).
 * Tries: kill(PID, SIGURG) (ignored unless handled: nothing dies). Root
 * needs no capability to signal another process of uid 0: in the host's
 * PID namespace, a build running as root can SIGKILL any root process of
 * the host whose PID it guesses. The witness reports the signal from
 * outside.
 *
 * Contained: ESRCH (the PID is not in the build's own PID namespace); the
 * witness got nothing. Without a PID namespace (the cgroup and session
 * supervisors) nothing in the sandbox stops this while the build is root of
 * the host's user namespace: no capability and no seccomp argument check can
 * tell a host PID from one of the build's own.
 */
#include <signal.h>
#include <stdlib.h>

#include "probe.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: signals_outside PID\n");
    return 2;
  }
  probe("kill(PID of a host process, SIGURG)", kill((pid_t)atoi(argv[1]), SIGURG));
  return 0;
}
