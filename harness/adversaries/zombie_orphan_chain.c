/* zombie_orphan_chain: leaves zombies and a chain of orphans.
 *
 * Tries: forks 8 children that exit at once and are never waited for
 * (zombies while the parent lives), and a chain of 8 generations in which
 * each process forks the next and exits, so that every one is orphaned and
 * reparented (to the PID namespace's init, the nearest subreaper, or PID 1);
 * the last generation sleeps. Then the parent sleeps.
 *
 * Contained: nothing of it is left, neither live processes nor zombies; the
 * orphans were reparented inside the unit and die with it. Every supervisor
 * keeps the chain in its process group, so every one contains it.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  for (int i = 0; i < 8; ++i) {
    pid_t zombie = fork();
    if (zombie == 0) _exit(0);
  }
  pid_t chain = fork();
  if (chain == 0) {
    for (int generation = 0; generation < 8; ++generation) {
      pid_t next = fork();
      if (next != 0) _exit(0);  /* this generation goes: the next is an orphan */
    }
    for (;;) sleep(1000);
  }
  printf("zombie_orphan_chain: 8 zombies and an orphan chain of 8\n");
  fflush(stdout);
  for (;;) sleep(1000);
}
