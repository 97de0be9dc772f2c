def hello():
    return "hello from snapprobe"
