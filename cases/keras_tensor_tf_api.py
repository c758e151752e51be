"""Raw TensorFlow APIs applied to a KerasTensor while building a functional model.

Keras 2 turns many TF ops on a KerasTensor into ``TFOpLambda`` layers, but not
control flow, variables or function-wrapping APIs ("Could not build a TypeSpec
for KerasTensor", "...does not allow registering custom dispatchers"); Keras 3
refuses every TF op ("A KerasTensor cannot be used as input to a TensorFlow
function").  The fix is the same on both: put the op in a Layer's ``call``.
"""

import numpy as np

from tfcanary.case import script_case

_FAMILY = "keras-tensor-tf-api"


def _check(keras, inputs, outputs, x, expected_shape):
    model = keras.Model(inputs, outputs)
    y = np.asarray(model(x))
    assert y.shape == expected_shape, y.shape


def _x():
    return np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)


while_loop = script_case(
    "keras-tensor-tf-while-loop", family=_FAMILY,
    tags=("tf.while_loop", "functional-api"),
    doc="""
    `tf.while_loop` doubles a `keras.Input` three times while building a
    functional model.  Fix: run the loop inside a custom layer's `call`.
    """,
)


@while_loop.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    _, out = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0), [tf.constant(0), inp])
    _check(keras, inp, out, _x(), (2, 4))


@while_loop.fixed
def _(tf, keras):
    class DoubleThrice(keras.layers.Layer):
        def call(self, inputs):
            _, out = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, v * 2.0),
                                   [tf.constant(0), inputs])
            return out

    inp = keras.Input(shape=(4,))
    _check(keras, inp, DoubleThrice()(inp), _x(), (2, 4))


cond = script_case(
    "keras-tensor-tf-cond", family=_FAMILY,
    tags=("tf.cond", "functional-api"),
    doc="""
    `tf.cond` on `tf.reduce_sum(inp) > 0` picks between two KerasTensor
    branches while building a functional model.  Fix: a custom layer calling
    `tf.cond` on real tensors.
    """,
)


@cond.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    out = tf.cond(tf.reduce_sum(inp) > 0, lambda: inp * 2.0, lambda: inp / 2.0)
    _check(keras, inp, out, _x(), (2, 4))


@cond.fixed
def _(tf, keras):
    class ScaleBySign(keras.layers.Layer):
        def call(self, inputs):
            return tf.cond(tf.reduce_sum(inputs) > 0, lambda: inputs * 2.0, lambda: inputs / 2.0)

    inp = keras.Input(shape=(4,))
    _check(keras, inp, ScaleBySign()(inp), _x(), (2, 4))


variable = script_case(
    "keras-tensor-tf-variable", family=_FAMILY,
    tags=("tf.Variable", "functional-api", "state"),
    doc="""
    A `tf.Variable` is created from `tf.zeros_like(inp)` to hold a learnable
    offset in a functional model.  Fix: create the state with `add_weight` in a
    custom layer's `build`.
    """,
)


@variable.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    offset = tf.Variable(tf.zeros_like(inp))
    _check(keras, inp, inp + offset, _x(), (2, 4))


@variable.fixed
def _(tf, keras):
    class LearnedOffset(keras.layers.Layer):
        def build(self, input_shape):
            self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                          name="offset")

        def call(self, inputs):
            return inputs + self.offset

    inp = keras.Input(shape=(4,))
    _check(keras, inp, LearnedOffset()(inp), _x(), (2, 4))


py_function = script_case(
    "keras-tensor-tf-py-function", family=_FAMILY,
    tags=("tf.py_function", "functional-api", "static-shape", "Dense"),
    doc="""
    `tf.py_function` runs a NumPy transform on a `keras.Input` and a Dense layer
    follows.  Fix: call `tf.py_function` in a custom layer and restore the static
    shape it loses with `set_shape`.
    """,
)


def _np_square(a):
    return np.square(np.asarray(a)).astype("float32")


@py_function.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    squared = tf.py_function(_np_square, [inp], tf.float32)
    out = keras.layers.Dense(2)(squared)
    _check(keras, inp, out, _x(), (2, 2))


@py_function.fixed
def _(tf, keras):
    class NumpySquare(keras.layers.Layer):
        def call(self, inputs):
            out = tf.py_function(_np_square, [inputs], tf.float32)
            out.set_shape(inputs.shape)
            return out

    inp = keras.Input(shape=(4,))
    out = keras.layers.Dense(2)(NumpySquare()(inp))
    _check(keras, inp, out, _x(), (2, 2))


unstack = script_case(
    "keras-tensor-tf-unstack", family=_FAMILY,
    tags=("tf.unstack", "functional-api", "batch-dimension"),
    doc="""
    `tf.unstack(inp)` splits a `keras.Input` into its samples to process them
    one by one; the batch size is unknown when the model is built.  Fix: a
    custom layer applying `tf.map_fn` over the batch.
    """,
)


@unstack.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    out = tf.stack([row * 2.0 for row in tf.unstack(inp)])
    _check(keras, inp, out, _x(), (2, 4))


@unstack.fixed
def _(tf, keras):
    class PerSample(keras.layers.Layer):
        def call(self, inputs):
            return tf.map_fn(lambda row: row * 2.0, inputs)

    inp = keras.Input(shape=(4,))
    _check(keras, inp, PerSample()(inp), _x(), (2, 4))


map_fn = script_case(
    "keras-tensor-tf-map-fn", family=_FAMILY,
    tags=("tf.map_fn", "functional-api"),
    doc="""
    `tf.map_fn` normalises each sample of a `keras.Input` while building a
    functional model.  Fix: the same `tf.map_fn` inside a custom layer.
    """,
)


@map_fn.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    out = tf.map_fn(lambda row: row / (tf.norm(row) + 1e-6), inp)
    _check(keras, inp, out, _x(), (2, 4))


@map_fn.fixed
def _(tf, keras):
    class RowNorm(keras.layers.Layer):
        def call(self, inputs):
            return tf.map_fn(lambda row: row / (tf.norm(row) + 1e-6), inputs)

    inp = keras.Input(shape=(4,))
    _check(keras, inp, RowNorm()(inp), _x(), (2, 4))


vectorized_map = script_case(
    "keras-tensor-tf-vectorized-map", family=_FAMILY,
    tags=("tf.vectorized_map", "functional-api"),
    doc="""
    `tf.vectorized_map` computes a per-sample outer product of a `keras.Input`
    while building a functional model.  Fix: call it in a custom layer.
    """,
)


@vectorized_map.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    out = tf.vectorized_map(lambda row: tf.tensordot(row, row, axes=0), inp)
    _check(keras, inp, out, _x(), (2, 4, 4))


@vectorized_map.fixed
def _(tf, keras):
    class OuterProduct(keras.layers.Layer):
        def call(self, inputs):
            return tf.vectorized_map(lambda row: tf.tensordot(row, row, axes=0), inputs)

    inp = keras.Input(shape=(4,))
    _check(keras, inp, OuterProduct()(inp), _x(), (2, 4, 4))


dataset = script_case(
    "keras-tensor-tf-data", family=_FAMILY,
    tags=("tf.data", "functional-api"),
    doc="""
    A `tf.data.Dataset.from_tensor_slices` pipeline is built on a `keras.Input`
    to preprocess inside the model.  Fix: build the dataset from the data and
    map the preprocessing over it before `model.predict`.
    """,
)


@dataset.broken
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    ds = tf.data.Dataset.from_tensor_slices(inp).map(lambda r: r * 2.0).batch(2)
    out = keras.layers.Dense(2)(next(iter(ds)))
    _check(keras, inp, out, _x(), (2, 2))


@dataset.fixed
def _(tf, keras):
    inp = keras.Input(shape=(4,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    ds = tf.data.Dataset.from_tensor_slices(_x()).map(lambda r: r * 2.0).batch(2)
    y = model.predict(ds, verbose=0)
    assert y.shape == (2, 2), y.shape
