/* loads_bpf: loads a BPF program into the kernel.
 *
 * Tries: bpf(BPF_PROG_LOAD) of the smallest socket filter ("return 0"),
 * closed at once. With CAP_BPF or CAP_SYS_ADMIN (or unprivileged BPF on) a
 * build reaches the kernel's verifier and JIT, a large attack surface, and
 * with tracing programs reads any process's memory.
 *
 * Contained: EPERM (bpf is denied by the seccomp filter; no CAP_BPF). The
 * program would leave nothing on the host: this probe's own report is the
 * evidence.
 */
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "probe.h"

int main(void) {
  struct bpf_insn code[2];
  memset(code, 0, sizeof code);
  code[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
  code[1].code = BPF_JMP | BPF_EXIT;
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = (unsigned long)code;
  attr.insn_cnt = 2;
  attr.license = (unsigned long)"GPL";
  long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (probe("bpf(BPF_PROG_LOAD)", fd)) close((int)fd);
  return 0;
}
