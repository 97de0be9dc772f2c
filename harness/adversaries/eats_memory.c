/* eats_memory: allocates and touches memory until it cannot.
 *
 * Usage: eats_memory [MIB]   (bound, default 1024)
 * Tries: maps anonymous memory 16 MiB at a time and touches every page, up to
 * the bound, prints how much it got, and sleeps. The bound keeps an
 * uncontained run from pushing the host into its own OOM killer.
 *
 * Contained: its peak resident memory (as the kernel accounts it to the
 * waiting parent, getrusage RUSAGE_CHILDREN) stays within the build's
 * memory limit: the memory cgroup (or an address-space rlimit) stops it, by
 * ENOMEM or by the OOM killer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char** argv) {
  long bound = argc > 1 ? atol(argv[1]) : 1024;
  long got = 0;
  while (got < bound) {
    char* chunk = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (chunk == MAP_FAILED) break;
    memset(chunk, 1, 16 << 20);
    got += 16;
  }
  printf("eats_memory: touched %ld MiB%s\n", got, got < bound ? ", then the allocation failed" : " (the bound)");
  fflush(stdout);
  for (;;) sleep(1000);
}
