/* kills_everyone: signals every process it may signal, kill(-1).
 *
 * Tries: kill(-1, SIGURG). SIGURG is ignored unless handled, so nothing
 * dies; the same call with SIGKILL ends every process of the same uid
 * outside the build's PID namespace, which for root in the host's
 * namespaces means most of the host. Verify keeps a witness process on the
 * host that reports any SIGURG it gets while the session runs.
 *
 * Contained: the call reaches no process outside the build (its own PID
 * namespace), or is refused (EPERM: the seccomp filter denies kill(-1)); and
 * the witness got nothing.
 */
#include <signal.h>

#include "probe.h"

int main(void) {
  probe("kill(-1, SIGURG)", kill(-1, SIGURG));
  return 0;
}
