/* sets_clock: sets the host's clock.
 *
 * Tries: clock_settime(CLOCK_REALTIME) to the time it just read (the clock
 * moves by microseconds at most). With CAP_SYS_TIME a build could move the
 * host's clock anywhere: certificates, logs, make's timestamps. Verify also
 * compares the realtime clock against the monotonic one before and after,
 * from outside, but only notes a step (a VM's clock is stepped from outside
 * too): the errno of this probe is the verdict.
 *
 * Contained: EPERM (no CAP_SYS_TIME; denied by the seccomp filter).
 */
#include <time.h>

#include "probe.h"

int main(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  probe("clock_settime(CLOCK_REALTIME)", clock_settime(CLOCK_REALTIME, &now));
  return 0;
}
