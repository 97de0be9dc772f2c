# A build that needs the network: it must find none. The builder's test runs
# a listener on the host's loopback, port 47913, and checks it saw nothing.
import socket
import sys

reached = []
for host, port in (("127.0.0.1", 47913), ("deb.debian.org", 80), ("151.101.2.132", 80)):
    try:
        with socket.create_connection((host, port), timeout=3):
            reached.append("%s:%d" % (host, port))
            print("net: connected to %s:%d" % (host, port), flush=True)
    except OSError as error:
        print("net: %s:%d unreachable: %s" % (host, port, error), flush=True)
if not reached:
    print("net: no network, cannot download what this build needs", flush=True)
sys.exit(1)
