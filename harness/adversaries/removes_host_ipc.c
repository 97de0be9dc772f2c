/* removes_host_ipc: finds and removes a SysV shared memory segment of the
 * host.
 *
 * Usage: removes_host_ipc KEY (the key of a segment verify made on the host
 * before the session).
 * Tries: shmget(KEY) then shmctl(IPC_RMID), and lists every segment it can
 * see (SHM_STAT over the kernel's index). SysV IPC objects live in an IPC
 * namespace; root of the host's one removes any of them (the owner check
 * passes for uid 0). Verify checks from outside that its segment is still
 * there, and makes it again if not.
 *
 * Contained: ENOENT (the build's own IPC namespace has no such key), and
 * the host's segment still there.
 */
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include "probe.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: removes_host_ipc KEY\n");
    return 2;
  }
  struct shm_info info;
  int highest = shmctl(0, SHM_INFO, (struct shmid_ds*)&info);
  int seen = 0;
  for (int index = 0; index <= highest; ++index) {
    struct shmid_ds ds;
    if (shmctl(index, SHM_STAT, &ds) >= 0) ++seen;
  }
  printf("removes_host_ipc: %d segment(s) in sight\n", seen);
  const key_t key = (key_t)strtol(argv[1], 0, 0);
  int id = shmget(key, 0, 0);
  if (id < 0) {
    probe_contained("shmget of the host's segment", errno);
    return 0;
  }
  probe("shmctl(IPC_RMID) of the host's segment", shmctl(id, IPC_RMID, 0));
  return 0;
}
