/* loads_module: asks the kernel to load a module.
 *
 * Tries: finit_module on an empty file: not a module, so a kernel that
 * accepts the call refuses the content (ENOEXEC or EINVAL) and loads
 * nothing. A privileged build would load real code into the host kernel.
 *
 * Contained: EPERM (no CAP_SYS_MODULE; denied by the seccomp filter), or
 * ENOSYS (a kernel without module support: then nothing could be loaded,
 * and this probe shows nothing of the sandbox). Verify also compares the
 * host's /proc/modules before and after.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  int fd = open("/tmp/snapcell-not-a-module.ko", O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    probe_contained("create /tmp/snapcell-not-a-module.ko", errno);
    return 0;
  }
  long rc = syscall(SYS_finit_module, fd, "", 0);
  if (rc == 0 || errno == ENOEXEC || errno == EINVAL || errno == EBADMSG || errno == ENOKEY)
    probe_reached("finit_module (the kernel took the call; the content was refused)");
  else
    probe_contained("finit_module", errno);
  close(fd);
  unlink("/tmp/snapcell-not-a-module.ko");
  return 0;
}
