/* sleeps_past_deadline: a build that never finishes.
 *
 * Tries: sleeps 1000 s, far past any deadline; it does nothing else, and
 * dies on SIGTERM.
 *
 * Contained: wait() reports timed_out at the deadline (not later than the
 * deadline plus scheduling noise), and kill_all ends it within the grace.
 * Every supervisor contains it.
 */
#include <stdio.h>
#include <unistd.h>

int main(void) {
  printf("sleeps_past_deadline: sleeping\n");
  fflush(stdout);
  sleep(1000);
  return 0;
}
