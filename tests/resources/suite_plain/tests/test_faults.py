import os
import time


def test_aborts():
    os.abort()


def test_hangs():
    time.sleep(600)


def test_after_the_faults():
    assert True
