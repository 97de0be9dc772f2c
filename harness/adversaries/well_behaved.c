/* well_behaved: the control. Prints "hello" and exits 0.
 *
 * Contained: wait() returns exit code 0 before the deadline, "hello" is in
 * the log, and kill_all finds nothing to kill. Every supervisor contains it.
 */
#include <stdio.h>

int main(void) {
  printf("hello\n");
  return 0;
}
