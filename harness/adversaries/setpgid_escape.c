/* setpgid_escape: leaves the build's process group without a new session.
 *
 * Tries: fork(); the child calls setpgid(0, 0) (a process group of its own,
 * still in the build's session) and sleeps; the parent waits (on a pipe)
 * until the child has left the group, then exits 0. A sweep by process group
 * (killpg) misses the child.
 *
 * Contained: the child dies with the build (cgroup.kill, or the PID
 * namespace's end). The session supervisor kills by process group only: it
 * leaks the child, by design.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  int escaped[2];
  if (pipe(escaped) != 0) {
    perror("pipe");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) {
    perror("fork");
    return 1;
  }
  if (child == 0) {
    close(escaped[0]);
    if (setpgid(0, 0) != 0) perror("setpgid");
    close(escaped[1]);
    for (;;) sleep(1000);
  }
  close(escaped[1]);
  char byte;
  while (read(escaped[0], &byte, 1) > 0) {
  }
  printf("setpgid_escape: child %d is in a group of its own\n", (int)child);
  return 0;
}
