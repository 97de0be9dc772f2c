# Leaves a daemon behind: fork, setsid, fork again, the middle one exits.
# setsid()+killpg() misses it; the builder must still kill it.
import os
import time

from setuptools import setup

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in range(3):
            os.close(fd)
        time.sleep(3600)
    os._exit(0)
os.wait()
print("daemon: left a daemon behind", flush=True)

setup(name="snapbad_daemon", version="1.0", packages=["snapbad_daemon"])
