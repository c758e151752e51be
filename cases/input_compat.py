"""Inputs whose shape or form a layer was not built for.

Covers the Layer's input-spec check, layers called on NumPy arrays, inputs of
higher rank than a custom layer expects, and models without a declared input.
"""

import numpy as np

from _sources import SEED_DYNAMIC_LAYER_SHAPES, SEED_INVALID_ARGUMENT, SEED_LAYER_CLASS
from tfcanary.case import Built, Claim, layer_case, script_case


dense_4d = layer_case(
    "dense-on-4d-input",
    family="input-compat",
    source=SEED_INVALID_ARGUMENT,
    claim=Claim("InvalidArgumentError", where="model(input_data) with a (1, 32, 32, 3) input"),
    tags=("Dense", "rank", "reshape", "nested-layer"),
    doc="""
    A custom layer wraps a Dense layer and is fed 4-D images, assuming 2-D
    input.  Fix: flatten first, with a static feature size (the source's
    `tf.reshape(inputs, (tf.shape(inputs)[0], -1))` leaves the last axis
    unknown in a functional model).
    """,
)


def _images():
    return np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype("float32")


@dense_4d.broken
def _(tf, keras):
    class CustomLayer(keras.layers.Layer):
        def __init__(self, output_dim, **kwargs):
            super().__init__(**kwargs)
            self.output_dim = output_dim
            self.dense = keras.layers.Dense(output_dim)

        def call(self, inputs):
            # Assumes inputs are already 2D.
            return self.dense(inputs)

        def get_config(self):
            return {**super().get_config(), "output_dim": self.output_dim}

    return Built(CustomLayer(16), x=_images())


@dense_4d.fixed
def _(tf, keras):
    class CorrectCustomLayer(keras.layers.Layer):
        def __init__(self, output_dim, **kwargs):
            super().__init__(**kwargs)
            self.output_dim = output_dim
            self.dense = keras.layers.Dense(output_dim)

        def build(self, input_shape):
            self.flat_dim = int(np.prod(input_shape[1:]))
            self.dense.build((None, self.flat_dim))
            self.built = True

        def call(self, inputs):
            return self.dense(tf.reshape(inputs, (-1, self.flat_dim)))

        def get_config(self):
            return {**super().get_config(), "output_dim": self.output_dim}

    return Built(CorrectCustomLayer(16), x=_images())


input_spec = script_case(
    "dense-input-spec-mismatch",
    family="input-compat",
    source=SEED_LAYER_CLASS,
    claim=Claim("ValueError", "Input 0 of layer dense is incompatible",
                where="second call, with vectors of length 4"),
    tags=("input_spec", "Dense", "numpy"),
    doc="""
    A Dense(3) layer is called on vectors of length 5, which builds its kernel,
    then on vectors of length 4.  Fix: one layer per input width (or keep the
    width fixed).
    """,
)


@input_spec.broken
def _(tf, keras):
    layer = keras.layers.Dense(3)
    layer(np.random.rand(10, 5))
    layer(np.random.rand(10, 4))


@input_spec.fixed
def _(tf, keras):
    keras.layers.Dense(3)(np.random.rand(10, 5))
    keras.layers.Dense(3)(np.random.rand(10, 4))


layer_numpy = layer_case(
    "layer-called-on-numpy",
    family="input-compat",
    source=SEED_LAYER_CLASS,
    claim=Claim(None, where="layer(x) with x = np.random.rand(20, 10)"),
    tags=("numpy", "Dense", "float64", "autocast"),
    doc="""
    A Dense layer (declared with `input_shape=(10,)`) is called directly on a
    float64 NumPy array.  Fixed: the same layer on a float32 tensor.
    """,
)


@layer_numpy.broken
def _(tf, keras):
    layer = keras.layers.Dense(input_shape=(10,), units=15)
    return Built(layer, x=np.random.default_rng(0).random((20, 10)), numpy_input=True)


@layer_numpy.fixed
def _(tf, keras):
    layer = keras.layers.Dense(units=15)
    return Built(layer, x=np.random.default_rng(0).random((20, 10)).astype("float32"))


no_input_shape = script_case(
    "sequential-without-input-shape",
    family="input-compat",
    source=SEED_DYNAMIC_LAYER_SHAPES,
    claim=Claim("ValueError", "input shape", where="model2.fit(x_train, y_train)"),
    tags=("Sequential", "deferred-build", "input_shape", "fit"),
    doc="""
    A Sequential model with no `input_shape` is compiled and fitted.  The source
    says fit fails with an unknown-input-shape error but names no class
    (ValueError assumed).  Fix: start the model with `keras.Input(shape=(10,))`.
    """,
)


def _train_data(keras):
    rng = np.random.default_rng(0)
    x = rng.random((32, 10)).astype("float32")
    y = keras.utils.to_categorical(rng.integers(0, 10, 32), num_classes=10)
    return x, y


@no_input_shape.broken
def _(tf, keras):
    model2 = keras.Sequential([
        keras.layers.Dense(128, activation="relu"),  # Missing input_shape
        keras.layers.Dense(10, activation="softmax"),
    ])
    model2.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model2.fit(*_train_data(keras), epochs=1, verbose=0)


@no_input_shape.fixed
def _(tf, keras):
    model = keras.Sequential([
        keras.Input(shape=(10,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(*_train_data(keras), epochs=1, verbose=0)
