# The controller does not handle SIGINT, SIGTERM or SIGHUP: they keep their
# default action and kill it where it stands, leaving its mounts, volume,
# cgroup and journal record to `snapcell reap` (the known limit before I9).
# caught by: I9 (harness/cli/signal_teardown_test.sh run)
mutate(snapcell/linux/interrupt.hpp [=[
    if (fd_) return {};
    const sigset_t set = interrupt_set();]=] [=[
    if (fd_ || true) return {};
    const sigset_t set = interrupt_set();]=])
