def hello():
    return "hello from snapdemo_toml"
