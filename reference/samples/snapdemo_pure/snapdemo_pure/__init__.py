def hello():
    return "hello from snapdemo_pure"
