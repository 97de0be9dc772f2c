from ._speed import add


def hello():
    return "hello from snapdemo_cext: 2 + 3 = %d" % add(2, 3)
