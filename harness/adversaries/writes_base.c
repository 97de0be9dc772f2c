/* writes_base: tries to change the base the snapshot was taken from.
 *
 * Tries: writes into its own root (/etc/motd, a new /written-by-build, and
 * removes /bin/sh): in a snapshot these land in the copy. Then it reads
 * /proc/self/mountinfo for an overlay "lowerdir=" (the base's path on the
 * host) and tries to create a file there.
 *
 * Contained: the base's checksum is unchanged after the session: the writes
 * went to the snapshot, and the host path of the base is not reachable from
 * inside (pivot_root detached the host's tree). Every supervisor contains it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(path);
    return;
  }
  (void)!write(fd, "written by a build\n", 19);
  close(fd);
  printf("writes_base: wrote %s\n", path);
}

int main(void) {
  write_file("/etc/motd");
  write_file("/written-by-build");
  if (unlink("/bin/sh") == 0) printf("writes_base: removed /bin/sh\n");
  FILE* mounts = fopen("/proc/self/mountinfo", "r");
  char line[8192];
  while (mounts && fgets(line, sizeof line, mounts)) {
    char* lower = strstr(line, "lowerdir=");
    if (!lower) continue;
    lower += strlen("lowerdir=");
    lower[strcspn(lower, ",: \n")] = '\0';
    char target[8192];
    snprintf(target, sizeof target, "%s/written-by-build", lower);
    write_file(target);
  }
  if (mounts) fclose(mounts);
  return 0;
}
