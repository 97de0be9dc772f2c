# Forks without bound; every child forks too. The process cap (RLIMIT_NPROC of
# the build's own uid, the pids controller) bounds it; the deadline ends it.
import os
import time

print("forkbomb: forking", flush=True)
while True:
    try:
        os.fork()
    except OSError:
        time.sleep(0.05)
