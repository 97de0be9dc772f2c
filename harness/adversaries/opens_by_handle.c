/* opens_by_handle: opens a file by its handle, past every path check.
 *
 * Tries: name_to_handle_at of "/", else of "/tmp" or "/dev" (an overlay
 * without nfs_export gives no handles; tmpfs does), then open_by_handle_at
 * with that handle.
 * open_by_handle_at needs CAP_DAC_READ_SEARCH, and with it any inode of a
 * mounted filesystem opens whatever the caller's root: the "shocker"
 * container escape, which brute-forces the handle of the host's root.
 *
 * Contained: EPERM (no CAP_DAC_READ_SEARCH; the call is denied by the
 * seccomp filter too). Reaching it leaves nothing on the host to see: this
 * probe's own report is the evidence.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  struct file_handle* handle = malloc(sizeof *handle + MAX_HANDLE_SZ);
  handle->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  const char* dirs[] = {"/", "/tmp", "/dev"};
  const char* dir = 0;
  for (int i = 0; i < 3 && !dir; ++i) {
    handle->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(AT_FDCWD, dirs[i], handle, &mount_id, 0) == 0) dir = dirs[i];
  }
  if (!dir) {
    probe_contained("name_to_handle_at of /, /tmp and /dev", errno);
    return 0;
  }
  int mount_fd = open(dir, O_RDONLY | O_DIRECTORY);
  int fd = open_by_handle_at(mount_fd, handle, O_RDONLY);
  probe("open_by_handle_at", fd);
  return 0;
}
