/* uses_host_keyring: adds a key to root's user keyring.
 *
 * Tries: add_key("user", "snapcell-probe", ...) into KEY_SPEC_USER_KEYRING
 * and leaves it there. Keyrings belong to a uid of a user namespace, not to
 * a mount or PID namespace: a build that is root of the host's user
 * namespace shares root's user keyring with the host (and reads what other
 * root processes keep there). Verify looks for new keys in the host's
 * /proc/keys from outside, and invalidates them.
 *
 * Contained: EPERM (add_key and keyctl are denied by the seccomp filter),
 * and no new key on the host.
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

#define KEY_SPEC_USER_KEYRING -4

int main(void) {
  probe("add_key into root's user keyring",
        syscall(SYS_add_key, "user", "snapcell-probe", "x", 1, KEY_SPEC_USER_KEYRING));
  return 0;
}
