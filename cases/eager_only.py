"""Eager-only Python inside ``call()``: ``.numpy()`` and ``float(tensor)``.

Both need a concrete value, so they work when the layer is called eagerly and
fail wherever ``call`` is traced (tf.function, XLA, functional model, fit).
"""

import numpy as np

from tfcanary.case import Built, layer_case


numpy_in_call = layer_case(
    "numpy-in-call",
    family="eager-only",
    tags=("numpy", "eager", "tracing"),
    doc="""
    A layer computes a percentile with `np.percentile(inputs.numpy(), 90)` and
    clips to it.  Fix: compute the statistic with TensorFlow ops (a top-k here).
    """,
)


@numpy_in_call.broken
def _(tf, keras):
    class ClipToP90(keras.layers.Layer):
        def call(self, inputs):
            p90 = np.percentile(inputs.numpy(), 90)
            return tf.minimum(inputs, p90)

    return Built(ClipToP90(), x=np.arange(20, dtype="float32").reshape(4, 5))


@numpy_in_call.fixed
def _(tf, keras):
    class ClipToP90(keras.layers.Layer):
        def call(self, inputs):
            flat = tf.reshape(inputs, [-1])
            k = tf.maximum(tf.size(flat) // 10, 1)
            p90 = tf.reduce_min(tf.math.top_k(flat, k=k).values)
            return tf.minimum(inputs, p90)

    return Built(ClipToP90(), x=np.arange(20, dtype="float32").reshape(4, 5))


float_of_tensor = layer_case(
    "python-float-of-tensor",
    family="eager-only",
    tags=("python-scalar", "eager", "tracing"),
    doc="""
    A layer turns the batch mean into a Python number with `float(...)` to use
    as a scale.  Fix: keep it a tensor.
    """,
)


@float_of_tensor.broken
def _(tf, keras):
    class CenterByMean(keras.layers.Layer):
        def call(self, inputs):
            mean = float(tf.reduce_mean(inputs))
            return inputs - mean

    return Built(CenterByMean(), x=np.arange(12, dtype="float32").reshape(4, 3))


@float_of_tensor.fixed
def _(tf, keras):
    class CenterByMean(keras.layers.Layer):
        def call(self, inputs):
            return inputs - tf.reduce_mean(inputs)

    return Built(CenterByMean(), x=np.arange(12, dtype="float32").reshape(4, 3))
