import pytest

SETUPS = {"session": 0, "module": 0}


@pytest.fixture(scope="session")
def session_resource():
    SETUPS["session"] += 1
    return SETUPS


@pytest.fixture(scope="module")
def module_resource():
    SETUPS["module"] += 1
    return SETUPS
