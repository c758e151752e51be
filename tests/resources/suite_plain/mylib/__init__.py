"""A team's package, as its own test suite imports it (no TensorFlow needed here)."""


class ShapeError(ValueError):
    """The package's own exception: results name it module-qualified (mylib.ShapeError)."""


def check_shape(shape):
    if len(shape) != 2:
        raise ShapeError(f"expected a 2-D shape, got {shape}")
    return shape
