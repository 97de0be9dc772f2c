/* triggers_sysrq: sends a magic SysRq command to the host's kernel.
 *
 * Tries: writes 'h' (help: prints the command list to the kernel log, and
 * nothing else) to /proc/sysrq-trigger. The same file takes 'b' (reboot) or
 * 'c' (crash). Verify reads the host's kernel log (/dev/kmsg) from outside
 * for sysrq lines written while the session ran.
 *
 * Contained: EROFS (bound read-only in the sandbox's /proc), ENOENT (no
 * /proc, or a kernel without CONFIG_MAGIC_SYSRQ), EPERM or EACCES; and no
 * sysrq line in the host's kernel log.
 */
#include <fcntl.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  int fd = open("/proc/sysrq-trigger", O_WRONLY);
  if (fd < 0) {
    probe_contained("open /proc/sysrq-trigger", errno);
    return 0;
  }
  probe("write 'h' to /proc/sysrq-trigger", write(fd, "h", 1));
  close(fd);
  return 0;
}
