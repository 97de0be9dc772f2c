# Sleeps past any reasonable deadline.
import time

print("slow: sleeping for an hour", flush=True)
time.sleep(3600)
