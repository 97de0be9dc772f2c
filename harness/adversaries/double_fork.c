/* double_fork: the daemon idiom, which also breaks the parent chain.
 *
 * Tries: fork(); the middle process calls setsid() and forks again, then
 * exits; the grandchild (in a new session, reparented away from the build)
 * sleeps 1000 s. The original process waits for the middle one and exits 0.
 *
 * Contained: the grandchild dies with the build (cgroup or PID namespace).
 * Neither the process group nor the parent chain of the command leads to it:
 * the session supervisor leaks it, by design.
 */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  pid_t middle = fork();
  if (middle < 0) {
    perror("fork");
    return 1;
  }
  if (middle == 0) {
    if (setsid() < 0) perror("setsid");
    pid_t grandchild = fork();
    if (grandchild < 0) _exit(1);
    if (grandchild == 0) {
      for (;;) sleep(1000);
    }
    _exit(0);
  }
  int status = 0;
  while (waitpid(middle, &status, 0) < 0) {
  }
  printf("double_fork: middle %d exited, grandchild lives on\n", (int)middle);
  return 0;
}
