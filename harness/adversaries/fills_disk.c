/* fills_disk: writes until the disk is full.
 *
 * Usage: fills_disk [MIB]   (bound, default 512)
 * Tries: writes 1 MiB blocks to files in its root (the snapshot: /fill-N,
 * 64 MiB each, so a per-file size limit alone does not stop it) until a
 * write fails (ENOSPC, EDQUOT, EFBIG) or the bound is reached, prints how
 * much it wrote, and sleeps. The bound keeps an uncontained run from filling
 * the host.
 *
 * Contained: the writes are capped per session: no host filesystem (the
 * root, the state directory's, the base's) loses more free space than the
 * session's disk cap while it runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long bound = argc > 1 ? atol(argv[1]) : 512;
  static char block[1 << 20];
  memset(block, 'x', sizeof block);
  long written = 0;
  int error = 0;
  int fd = -1;
  while (written < bound && !error) {
    if (written % 64 == 0) {
      if (fd >= 0) close(fd);
      char path[64];
      snprintf(path, sizeof path, "/fill-%ld", written / 64);
      fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) {
        error = errno;
        break;
      }
    }
    size_t done = 0;
    while (done < sizeof block) {
      ssize_t n = write(fd, block + done, sizeof block - done);
      if (n < 0) {
        error = errno;
        break;
      }
      done += (size_t)n;
    }
    if (!error) ++written;
  }
  printf("fills_disk: wrote %ld MiB%s%s\n", written, error ? ", stopped by " : " (the bound)",
         error ? strerror(error) : "");
  fflush(stdout);
  for (;;) sleep(1000);
}
