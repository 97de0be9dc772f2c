def hello():
    return "hello from snapbad_write"
