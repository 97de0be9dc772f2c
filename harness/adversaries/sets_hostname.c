/* sets_hostname: renames the host.
 *
 * Tries: sethostname("snapcell-probe") and leaves it so (verify restores the
 * host's name at once when it sees the change). Without a UTS namespace of
 * its own, root renames the whole machine.
 *
 * Contained: EPERM (no CAP_SYS_ADMIN), and from outside the host's name is
 * unchanged: a UTS namespace of the build's own would scope even a rename
 * that got through.
 */
#include <unistd.h>

#include "probe.h"

int main(void) {
  static const char name[] = "snapcell-probe";
  probe("sethostname", sethostname(name, sizeof name - 1));
  return 0;
}
