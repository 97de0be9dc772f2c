/* setsid_escape: leaves the build's process group the classic way.
 *
 * Tries: fork(); the child calls setsid() (new session, new process group)
 * and sleeps 1000 s; the parent waits (on a pipe) until the child has left
 * the group, then exits 0, so the build "succeeds" while a process of it
 * lives on outside the group the build was started in. (Without the pipe the
 * parent could exit before the child's setsid(), and a group sweep would
 * sometimes catch the child still in the group.)
 *
 * Contained: the child dies with the build. A cgroup keeps it (setsid does
 * not change cgroups: cgroup.kill ends it); a PID namespace keeps it (its
 * init exits with the command and the kernel kills the rest). The session
 * supervisor (kill by process group) cannot see it: it leaks, by design.
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
    if (setsid() < 0) perror("setsid");
    close(escaped[1]);
    for (;;) sleep(1000);
  }
  close(escaped[1]);
  char byte;
  while (read(escaped[0], &byte, 1) > 0) {
  }
  printf("setsid_escape: child %d left the group\n", (int)child);
  return 0;
}
