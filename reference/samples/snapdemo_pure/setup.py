from setuptools import setup

setup(name="snapdemo_pure", version="1.0", packages=["snapdemo_pure"])
