/* writes_sysctl: writes a global kernel setting through /proc/sys.
 *
 * Tries: reads /proc/sys/fs/lease-break-time (a harmless knob: how long a
 * file lease holder gets) and writes the same value back. Nothing changes
 * on the host either way; the write succeeding is the privilege. Verify
 * also compares the knob before and after, from outside, and restores it.
 *
 * Contained: EROFS (/proc/sys is read-only in the sandbox), ENOENT (no /proc
 * at all: the supervisors without a PID namespace), EPERM or EACCES.
 */
#include <fcntl.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  const char* path = "/proc/sys/fs/lease-break-time";
  char value[64] = {0};
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    probe_contained("read /proc/sys/fs/lease-break-time", errno);
    return 0;
  }
  ssize_t n = read(fd, value, sizeof value - 1);
  close(fd);
  if (n <= 0) {
    probe_contained("read /proc/sys/fs/lease-break-time", n < 0 ? errno : EIO);
    return 0;
  }
  fd = open(path, O_WRONLY);
  if (fd < 0) {
    probe_contained("open /proc/sys/fs/lease-break-time for writing", errno);
    return 0;
  }
  probe("write /proc/sys/fs/lease-break-time (same value)", write(fd, value, (size_t)n));
  close(fd);
  return 0;
}
