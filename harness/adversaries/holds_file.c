/* holds_file: keeps a file of the sandbox's root mapped, and another open.
 *
 * Tries: creates /held at the root of the sandbox (on the snapshot's own
 * filesystem, not the private /tmp), maps it shared and closes that fd: a
 * mapping holds the filesystem busy although no fd shows in /proc/PID/fd.
 * It also keeps /held-open open for writing, then sleeps.
 * (Falls back to mapping /bin/busybox read-only if the root is read-only.)
 *
 * Contained: it is killed with the build and the mapping and the open file
 * go with it; the snapshot can be unmounted. Every supervisor contains it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
  int fd = open("/held", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  int prot = PROT_READ | PROT_WRITE;
  int flags = MAP_SHARED;
  if (fd >= 0) {
    if (ftruncate(fd, 4096) != 0) perror("ftruncate");
  } else {
    fd = open("/bin/busybox", O_RDONLY | O_CLOEXEC);
    prot = PROT_READ;
    flags = MAP_PRIVATE;
  }
  if (fd < 0) {
    perror("open");
    return 1;
  }
  void* map = mmap(NULL, 4096, prot, flags, fd, 0);
  if (map == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  close(fd);
  int held = open("/held-open", O_WRONLY | O_CREAT, 0644);
  printf("holds_file: mapped at %p, fd %d open\n", map, held);
  fflush(stdout);
  for (;;) sleep(1000);
}
