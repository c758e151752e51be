import os
import unittest

import pytest

from mylib import ShapeError, check_shape


def test_passes(session_resource):
    assert check_shape((2, 3)) == (2, 3)


def test_fixtures_are_set_up_once(session_resource, module_resource):
    assert (session_resource["session"], module_resource["module"]) == (1, 1)


@pytest.mark.parametrize("shape", [(1, 2), (1, 2, 3), [4]], ids=["2d", "3d", "1d/list"])
def test_shapes(shape):
    assert check_shape(shape) == shape


def test_assertion_fails():
    assert sum([1, 2]) == 4


@pytest.fixture
def broken():
    raise RuntimeError("fixture failed")


def test_setup_error(broken):
    pass


@pytest.fixture
def bad_teardown():
    yield
    raise KeyError("teardown")


def test_teardown_error(bad_teardown):
    pass


@pytest.mark.xfail(raises=ShapeError, reason="1-D shapes are not supported yet")
def test_expected_failure():
    check_shape((3,))


@pytest.mark.xfail(reason="thought to fail")
def test_unexpected_pass():
    pass


@pytest.mark.skip(reason="not written yet")
def test_skipped():
    pass


@pytest.mark.slow
def test_marked_slow():
    pass


def test_sets_an_environment_variable(monkeypatch):
    monkeypatch.setenv("MYLIB_MODE", "fast")
    assert os.environ["MYLIB_MODE"] == "fast"


class TestWithUnittest(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(check_shape([1, 1]), [1, 1])

    def test_raises_the_packages_error(self):
        check_shape([1])
