import numpy as np
import pytest

SETUPS = {"session": 0, "module": 0}


@pytest.fixture(scope="session")
def batch():
    SETUPS["session"] += 1
    return np.ones((2, 4), "float32")


@pytest.fixture(scope="module")
def module_counter():
    SETUPS["module"] += 1
    return SETUPS
