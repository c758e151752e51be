import unittest

import numpy as np
import pytest
import tensorflow as tf

from demolayers.layers import Projection, Scale


def test_scale_doubles(batch):
    assert np.allclose(Scale()(batch), 2 * batch)


@pytest.mark.parametrize("units", [1, 3])
def test_projection_shape(batch, units):
    assert Projection(units)(batch).shape == (2, units)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scale_keeps_dtype(dtype):
    x = np.ones((1, 2), dtype)
    assert Scale()(tf.constant(x)).dtype == tf.dtypes.as_dtype(dtype)


def test_fixtures_are_shared_as_pytest_shares_them(batch, module_counter):
    assert module_counter == {"session": 1, "module": 1}


def test_wrong_expectation(batch):
    assert Scale(3.0)(batch).numpy().sum() == 16


@pytest.fixture
def broken_fixture():
    raise ValueError("the fixture cannot be built")


def test_setup_fails(broken_fixture):
    pass


@pytest.fixture
def bad_teardown():
    yield 1
    raise RuntimeError("teardown failed")


def test_teardown_fails(bad_teardown):
    assert bad_teardown == 1


@pytest.mark.xfail(reason="Scale has no get_config yet", raises=AssertionError)
def test_scale_round_trips_its_factor():
    assert Scale(5.0).get_config().get("factor") == 5.0


@pytest.mark.xfail(reason="expected to fail, but passes")
def test_xpass():
    assert True


@pytest.mark.skip(reason="not written yet")
def test_skipped():
    pass


class TestScaleUnittest(unittest.TestCase):
    def test_scale_by_one(self):
        self.assertTrue(np.allclose(Scale(1.0)(np.ones((1, 1), "float32")), 1.0))

    def test_scale_rejects_strings(self):
        with self.assertRaises(TypeError):
            Scale()("not a tensor")
