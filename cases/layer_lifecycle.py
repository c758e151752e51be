"""Where a layer creates its weights and how it describes itself for saving.

Weights belong in ``build()`` (called once, lazily, with the input shape);
a layer whose ``__init__`` takes arguments needs a ``get_config()`` that
returns them, or the saved model cannot be rebuilt.
"""

import numpy as np

from _sources import SEED_LAYER_CLASS
from tfcanary.case import Built, Claim, layer_case


simple_dense = layer_case(
    "simple-dense-weights-in-call",
    family="layer-lifecycle",
    source=SEED_LAYER_CLASS,
    claim=Claim(None, where="layer = SimpleDense(4); layer(tf.ones((2, 2)))"),
    tags=("build", "add_weight", "lazy-build", "variable-creation"),
    doc="""
    The source's SimpleDense (its `add_weight` calls lack closing parentheses;
    written as intended), but creating its weights lazily in `call()` on first
    use instead of in `build()`.  Fix: create them in `build(input_shape)` and
    add `get_config`.
    """,
)


@simple_dense.broken
def _(tf, keras):
    class SimpleDense(keras.layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def call(self, inputs):
            if not hasattr(self, "w"):
                self.w = self.add_weight(shape=(inputs.shape[-1], self.units),
                                         initializer="random_normal")
                self.b = self.add_weight(shape=(self.units,), initializer="zeros")
            return tf.matmul(inputs, self.w) + self.b

    return Built(SimpleDense(4), x=np.ones((2, 2), "float32"))


@simple_dense.fixed
def _(tf, keras):
    class SimpleDense(keras.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

        def call(self, inputs):
            return tf.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Built(SimpleDense(4), x=np.ones((2, 2), "float32"))


no_config = layer_case(
    "init-args-without-get-config",
    family="layer-lifecycle",
    tags=("get_config", "serialization", "saved"),
    doc="""
    A custom layer takes `units` and `activation` in `__init__` but defines no
    `get_config`, then is saved to `.keras` and reloaded.  Fix: return the
    arguments from `get_config`.
    """,
)


def _scaled_dense(keras, tf, with_config):
    class ScaledDense(keras.layers.Layer):
        def __init__(self, units, activation=None, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units),
                                          initializer="glorot_uniform", name="kernel")

        def call(self, inputs):
            return self.activation(tf.matmul(inputs, self.kernel))

    if with_config:
        def get_config(self):
            return {**super(ScaledDense, self).get_config(), "units": self.units,
                    "activation": keras.activations.serialize(self.activation)}

        ScaledDense.get_config = get_config
    return ScaledDense


@no_config.broken
def _(tf, keras):
    layer = _scaled_dense(keras, tf, with_config=False)(3, activation="relu")
    return Built(layer, x=np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4))


@no_config.fixed
def _(tf, keras):
    layer = _scaled_dense(keras, tf, with_config=True)(3, activation="relu")
    return Built(layer, x=np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4))


array_arg = layer_case(
    "init-array-arg-without-get-config",
    family="layer-lifecycle",
    tags=("get_config", "serialization", "saved", "numpy"),
    doc="""
    A custom layer takes a NumPy array of per-feature scales in `__init__` and
    defines no `get_config`; Keras 3's automatic config cannot serialise the
    array either.  Fix: `get_config` returning the scales as a list.
    """,
)


def _feature_scale(keras, tf, with_config):
    class FeatureScale(keras.layers.Layer):
        def __init__(self, scales, **kwargs):
            super().__init__(**kwargs)
            self.scales = np.asarray(scales, dtype="float32")

        def build(self, input_shape):
            self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                        name="bias")

        def call(self, inputs):
            return inputs * self.scales + self.bias

    if with_config:
        def get_config(self):
            return {**super(FeatureScale, self).get_config(), "scales": self.scales.tolist()}

        FeatureScale.get_config = get_config
    return FeatureScale


@array_arg.broken
def _(tf, keras):
    layer = _feature_scale(keras, tf, with_config=False)(np.array([1.0, 2.0, 0.5, -1.0]))
    return Built(layer, x=np.ones((2, 4), "float32"))


@array_arg.fixed
def _(tf, keras):
    layer = _feature_scale(keras, tf, with_config=True)(np.array([1.0, 2.0, 0.5, -1.0]))
    return Built(layer, x=np.ones((2, 4), "float32"))
