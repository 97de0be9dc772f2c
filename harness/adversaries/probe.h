/* What the root-technique adversaries share: how a probe says what it saw.
 *
 * A probe makes one privileged call and reports on stdout (the session's
 * log, which `snapcell verify` reads from outside after the session):
 *   "snapcell-probe: reached <what>"           the call did what it asks
 *   "snapcell-probe: contained <what>: <errno>" it was refused
 * verify counts every "reached" line as a leak, but never takes a
 * "contained" line (or the exit code) as proof: its own checks from outside
 * (the host's name, clock, sysctls, keyrings, IPC objects, modules, kernel
 * log, a witness process outside the sandbox) judge as well, so a probe that
 * lies about containment is still caught when its effect shows.
 *
 * Contained, for the probes: the call fails with EPERM, EACCES, EROFS or
 * ENOENT (the capability, the filter, a read-only mount or a missing path
 * stopped it), or ESRCH/EINVAL where the target is not in sight.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline void probe_reached(const char* what) {
  printf("snapcell-probe: reached %s\n", what);
  fflush(stdout);
}

static inline void probe_contained(const char* what, int error) {
  printf("snapcell-probe: contained %s: %s\n", what, strerror(error));
  fflush(stdout);
}

/* rc == 0: reached; else contained with errno. */
static inline int probe(const char* what, long rc) {
  if (rc >= 0) {
    probe_reached(what);
    return 1;
  }
  probe_contained(what, errno);
  return 0;
}
