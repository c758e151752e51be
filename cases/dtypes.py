"""Data types that do not match what a layer computes in.

Keras casts *floating* inputs to a layer's compute dtype, so float64 data into
a float32 model is fine; integer images are not cast, and constants created
inside ``call`` are never cast.
"""

import numpy as np

from _sources import SEED_INVALID_ARGUMENT
from tfcanary.case import Built, Claim, layer_case


float64_input = layer_case(
    "float64-input-float32-model",
    family="dtypes",
    source=SEED_INVALID_ARGUMENT,
    claim=Claim("InvalidArgumentError", where="model(input_data) with a float64 tf.constant"),
    tags=("float64", "autocast", "Sequential"),
    doc="""
    A float32 Sequential model is called on float64 data.  The source's input
    `[[1.0, 2.0, 3.0] * 3.33]` is not valid Python; a (1, 10) float64 batch is
    used.  Fix per the source: feed float32.
    """,
)


def _dense_softmax_model(keras):
    return keras.Sequential([
        keras.layers.Dense(64, activation="relu", input_shape=(10,)),
        keras.layers.Dense(10, activation="softmax"),
    ])


@float64_input.broken
def _(tf, keras):
    x = np.tile(np.array([1.0, 2.0, 3.0]) * 3.33, 4)[:10].reshape(1, 10).astype("float64")
    return Built(_dense_softmax_model(keras), x=x)


@float64_input.fixed
def _(tf, keras):
    x = np.tile(np.array([1.0, 2.0, 3.0]) * 3.33, 4)[:10].reshape(1, 10).astype("float32")
    return Built(_dense_softmax_model(keras), x=x)


uint8_conv = layer_case(
    "uint8-images-conv2d",
    family="dtypes",
    source=SEED_INVALID_ARGUMENT,
    claim=Claim("InvalidArgumentError", where="model(batch) with uint8 images"),
    tags=("uint8", "Conv2D", "images", "autocast"),
    doc="""
    Raw uint8 images go straight into a Conv2D/Flatten/Dense Sequential model
    declared with `input_shape` (smaller images than the source's 32x32).  Fix:
    cast to float32 and scale to [0, 1].
    """,
)


def _conv_model(keras):
    return keras.Sequential([
        keras.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(8, 8, 3)),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ])


def _images():
    return np.random.default_rng(0).integers(0, 256, size=(4, 8, 8, 3), dtype=np.uint8)


@uint8_conv.broken
def _(tf, keras):
    return Built(_conv_model(keras), x=_images())


@uint8_conv.fixed
def _(tf, keras):
    return Built(_conv_model(keras), x=_images().astype(np.float32) / 255.0)


bare_conv = layer_case(
    "uint8-images-bare-conv2d",
    family="dtypes",
    tags=("uint8", "Conv2D", "images", "autocast"),
    doc="""
    Raw uint8 images go into a Conv2D layer used on its own, with no float32
    Input layer in front to cast them (compare uint8-images-conv2d).  Fix: cast
    to float32 and scale to [0, 1].
    """,
)


@bare_conv.broken
def _(tf, keras):
    return Built(keras.layers.Conv2D(4, (3, 3), activation="relu"), x=_images())


@bare_conv.fixed
def _(tf, keras):
    return Built(keras.layers.Conv2D(4, (3, 3), activation="relu"),
                 x=_images().astype(np.float32) / 255.0)


float64_const = layer_case(
    "float64-constant-in-call",
    family="dtypes",
    tags=("float64", "tf.cast", "constant"),
    doc="""
    A layer adds a NumPy float64 offset (`tf.constant(np.array(...))`) to its
    float32 input inside `call`.  Fix: `tf.cast` the constant to `inputs.dtype`.
    """,
)


@float64_const.broken
def _(tf, keras):
    class AddOffset(keras.layers.Layer):
        def call(self, inputs):
            offset = tf.constant(np.array([0.5, -0.5, 1.0]))
            return inputs + offset

    return Built(AddOffset(), x=np.ones((4, 3), "float32"))


@float64_const.fixed
def _(tf, keras):
    class AddOffset(keras.layers.Layer):
        def call(self, inputs):
            offset = tf.cast(tf.constant(np.array([0.5, -0.5, 1.0])), inputs.dtype)
            return inputs + offset

    return Built(AddOffset(), x=np.ones((4, 3), "float32"))
