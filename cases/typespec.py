"""TypeSpecs and signatures built from Keras tensors and model outputs.

A ``tf.TensorSpec`` accepts ``None`` dimensions, so a spec built from a Keras
tensor's shape is fine; what breaks is reading that shape the Keras 2 way
(``TensorShape.as_list()``) on Keras 3, where shapes are tuples.
"""

import numpy as np

from _sources import SEED_TYPESPEC_KERAS_TENSOR
from tfcanary.case import Claim, script_case


spec_from_output = script_case(
    "tensorspec-from-model-output",
    family="typespec",
    source=SEED_TYPESPEC_KERAS_TENSOR,
    claim=Claim("ValueError", "The shape of a TensorSpec must be fully defined",
                where="tf.TensorSpec(shape=keras_tensor.shape, ...)"),
    tags=("tf.TensorSpec", "model.output", "variable-length", "Dense"),
    doc="""
    A TensorSpec is built from `model.output` of a Sequential model whose Input
    is variable-length (`shape=(None,)`) and feeds a Dense layer, as in the
    source.  Fix: a functional model whose Input has a defined last axis; a spec
    with a None batch dimension is valid.
    """,
)


@spec_from_output.broken
def _(tf, keras):
    model = keras.Sequential([
        keras.layers.Input(shape=(None,)),  # Variable length input
        keras.layers.Dense(units=10),
    ])
    keras_tensor = model.output
    tf.TensorSpec(shape=keras_tensor.shape, dtype=keras_tensor.dtype)


@spec_from_output.fixed
def _(tf, keras):
    inputs = keras.Input(shape=(8,))
    model = keras.Model(inputs, keras.layers.Dense(units=10)(inputs))
    keras_tensor = model.output
    spec = tf.TensorSpec(shape=keras_tensor.shape, dtype=keras_tensor.dtype)
    assert spec.is_compatible_with(tf.zeros((3, 10))), spec


spec_as_list = script_case(
    "tensorspec-shape-as-list",
    family="typespec",
    source=SEED_TYPESPEC_KERAS_TENSOR,
    claim=Claim("ValueError", where="tf.TensorSpec(shape=[None] + keras_tensor.shape.as_list()[1:])"),
    tags=("tf.TensorSpec", "model.output", "as_list", "keras3-shape-tuple"),
    doc="""
    A TensorSpec is built from `[None] + model.output.shape.as_list()[1:]`; the
    source wraps it in `except ValueError` and calls it flawed.  Keras 3 shapes
    are tuples with no `as_list()`.  A functional model stands in for the
    source's Sequential (see sequential-model-output).  Fix: `[None] + list(shape)[1:]`.
    """,
)


def _flatten_dense_model(keras):
    inputs = keras.Input(shape=(28, 28))
    outputs = keras.layers.Dense(units=10)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


@spec_as_list.broken
def _(tf, keras):
    keras_tensor = _flatten_dense_model(keras).output
    inferred_shape = [None] + keras_tensor.shape.as_list()[1:]
    tf.TensorSpec(shape=inferred_shape, dtype=keras_tensor.dtype)


@spec_as_list.fixed
def _(tf, keras):
    keras_tensor = _flatten_dense_model(keras).output
    inferred_shape = [None] + list(keras_tensor.shape)[1:]
    spec = tf.TensorSpec(shape=inferred_shape, dtype=keras_tensor.dtype)
    assert spec.shape.as_list() == [None, 10], spec


seq_output = script_case(
    "sequential-model-output",
    family="typespec",
    source=SEED_TYPESPEC_KERAS_TENSOR,
    claim=Claim(None, where="keras_tensor = model.output"),
    tags=("model.output", "Sequential", "keras3"),
    doc="""
    The source reads `model.output` of a Sequential model that starts with an
    `Input` layer but has never been called, to build a TensorSpec from it.
    Fix: build the model with the functional API, whose `output` always exists.
    """,
)


@seq_output.broken
def _(tf, keras):
    model = keras.Sequential([
        keras.layers.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(units=10),
    ])
    keras_tensor = model.output
    tf.TensorSpec(shape=keras_tensor.shape, dtype=keras_tensor.dtype)


@seq_output.fixed
def _(tf, keras):
    keras_tensor = _flatten_dense_model(keras).output
    spec = tf.TensorSpec(shape=keras_tensor.shape, dtype=keras_tensor.dtype)
    assert spec.is_compatible_with(tf.zeros((3, 10))), spec


signature = script_case(
    "input-signature-model-built-inside",
    family="typespec",
    source=SEED_TYPESPEC_KERAS_TENSOR,
    claim=Claim(None, where="process_data(example_input)"),
    tags=("tf.function", "input_signature", "variable-creation"),
    doc="""
    A `tf.function` with an `input_signature` builds a Sequential model inside
    its body and calls it, so the model's variables are created while tracing.
    Fix: build the model once outside the function and only call it inside.
    """,
)


@signature.broken
def _(tf, keras):
    @tf.function(input_signature=[tf.TensorSpec(shape=[None, 28, 28], dtype=tf.float32)])
    def process_data(input_tensor):
        model = keras.Sequential([
            keras.layers.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(units=10),
        ])
        return model(input_tensor)

    example_input = tf.random.normal((32, 28, 28))
    result = process_data(example_input)
    assert tuple(result.shape) == (32, 10), result.shape


@signature.fixed
def _(tf, keras):
    model = keras.Sequential([
        keras.layers.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(units=10),
    ])

    @tf.function(input_signature=[tf.TensorSpec(shape=[None, 28, 28], dtype=tf.float32)])
    def process_data(input_tensor):
        return model(input_tensor)

    example_input = tf.constant(np.random.default_rng(0).standard_normal((32, 28, 28)), tf.float32)
    result = process_data(example_input)
    assert tuple(result.shape) == (32, 10), result.shape
