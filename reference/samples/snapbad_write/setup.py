# Writes outside its tree: to /etc, to the base's own Python files, to /.
# Each attempt must fail (the build's uid owns none of them) and, whatever
# happens, the base and the host stay unchanged. Then it builds normally.
import os
import sysconfig

from setuptools import setup

targets = [
    "/etc/snapcell-pwned",
    "/etc/passwd",
    os.path.join(sysconfig.get_paths()["stdlib"], "os.py"),
    "/snapcell-pwned",
    "/build/../usr/snapcell-pwned",
]
for target in targets:
    try:
        with open(target, "a") as out:
            out.write("pwned\n")
        print("write: wrote", target, flush=True)
    except OSError as error:
        print("write: refused", target, error.strerror, flush=True)

setup(name="snapbad_write", version="1.0", packages=["snapbad_write"])
