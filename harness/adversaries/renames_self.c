/* renames_self: disguises itself as a host process.
 *
 * Tries: sets its name (prctl PR_SET_NAME) to "sshd" and overwrites argv so
 * that /proc/PID/cmdline reads "/usr/sbin/sshd -D", forks a child that does
 * the same, and both sleep. A sweep that spares processes by name (or a
 * checker that finds builds by name) is fooled.
 *
 * Contained: both are killed with the build: membership is by cgroup, PID
 * namespace or process group, never by name. Every supervisor contains it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void disguise(int argc, char** argv) {
  prctl(PR_SET_NAME, "sshd", 0, 0, 0);
  /* argv strings are contiguous: overwrite all of them */
  char* start = argv[0];
  char* end = argv[argc - 1] + strlen(argv[argc - 1]);
  memset(start, 0, (size_t)(end - start));
  const char fake[] = "/usr/sbin/sshd -D";
  size_t room = (size_t)(end - start);
  memcpy(start, fake, sizeof fake - 1 < room ? sizeof fake - 1 : room);
}

int main(int argc, char** argv) {
  pid_t child = fork();
  disguise(argc, argv);
  if (child != 0) {
    printf("renames_self: now called sshd\n");
    fflush(stdout);
  }
  for (;;) sleep(1000);
}
