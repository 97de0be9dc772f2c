from setuptools import Extension, setup

setup(
    name="snapdemo_cext",
    version="1.0",
    packages=["snapdemo_cext"],
    ext_modules=[Extension("snapdemo_cext._speed", ["src/speed.c"])],
)
