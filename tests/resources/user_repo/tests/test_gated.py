"""The team's own tests of its layer, run by the nightly beside the cases (inputs: tests)."""

import numpy as np
import pytest

from mycompany.layers import GatedResidual

X = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)


@pytest.mark.parametrize("positional_names", [False, True])
def test_output_keeps_the_input_shape(positional_names):
    assert GatedResidual(positional_names=positional_names)(X).shape == X.shape


def test_zero_input_gives_zero_output():
    assert np.allclose(GatedResidual()(np.zeros_like(X)), 0.0)
