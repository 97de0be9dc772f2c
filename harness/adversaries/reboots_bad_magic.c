/* reboots_bad_magic: calls reboot(2) with a wrong second magic number.
 *
 * Tries: reboot(LINUX_REBOOT_MAGIC1, 0x12345678, CAD_OFF). The kernel checks
 * CAP_SYS_BOOT before the magic numbers: EINVAL means the capability was
 * there (and a right magic would have rebooted the host), EPERM that it was
 * not. Nothing happens either way.
 *
 * Contained: EPERM (no CAP_SYS_BOOT; denied by the seccomp filter).
 */
#include <linux/reboot.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  long rc = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0x12345678, LINUX_REBOOT_CMD_CAD_OFF, 0);
  if (rc == 0 || errno == EINVAL)
    probe_reached("reboot(2) past its capability check (bad magic refused)");
  else
    probe_contained("reboot(2)", errno);
  return 0;
}
