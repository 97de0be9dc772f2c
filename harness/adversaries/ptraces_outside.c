/* ptraces_outside: attaches to a process outside the build with ptrace.
 *
 * Usage: ptraces_outside PID (verify's witness process, on the host).
 * Tries: PTRACE_SEIZE (which, unlike ATTACH, does not stop the process),
 * holds it for 300 ms, then detaches. A tracer reads and writes the
 * tracee's memory and registers: root that can trace a host process runs
 * code as it. The witness watches its own TracerPid from outside.
 *
 * Contained: ESRCH (not in the build's PID namespace) or EPERM (no
 * CAP_SYS_PTRACE over a process holding more capabilities than the build);
 * and the witness was never traced.
 */
#include <stdlib.h>
#include <sys/ptrace.h>
#include <unistd.h>

#include "probe.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ptraces_outside PID\n");
    return 2;
  }
  const pid_t pid = (pid_t)atoi(argv[1]);
  if (probe("ptrace(PTRACE_SEIZE) of a host process", ptrace(PTRACE_SEIZE, pid, 0, 0))) {
    usleep(300 * 1000);
    ptrace(PTRACE_DETACH, pid, 0, 0);
  }
  return 0;
}
