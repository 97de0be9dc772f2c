# Ignores SIGTERM (and SIGHUP) and sleeps: only SIGKILL at the deadline ends it.
import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
print("term: ignoring SIGTERM, sleeping", flush=True)
while True:
    time.sleep(1)
