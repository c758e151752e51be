"""Python control flow on tensor values inside ``call()``.

A Python ``if`` or ``for`` on a tensor works eagerly and under AutoGraph, and
fails where a graph is traced without AutoGraph.  Fixed variants use
``tf.cond`` / ``tf.where``, which are graph ops on every path.
"""

import numpy as np

from _sources import SEED_TYPESPEC_CUSTOM_LAYER
from tfcanary.case import Built, Claim, layer_case


python_if = layer_case(
    "python-if-on-tensor",
    family="control-flow",
    source=SEED_TYPESPEC_CUSTOM_LAYER,
    claim=Claim("TypeError", "Could not build a TypeSpec for KerasTensor",
                where="when the layer is used within a tf.function"),
    tags=("autograph", "python-bool", "tf.cond"),
    doc="""
    A layer branches with a Python `if` on `tf.reduce_sum(inputs) > threshold`.
    Fix: put both branches in `tf.cond`.
    """,
)


@python_if.broken
def _(tf, keras):
    class ConditionalLayer(keras.layers.Layer):
        def __init__(self, threshold, **kwargs):
            super().__init__(**kwargs)
            self.threshold = threshold

        def call(self, inputs):
            if tf.reduce_sum(inputs) > self.threshold:
                return inputs * 2
            else:
                return inputs / 2

    return Built(ConditionalLayer(1.0), x=np.ones((4, 3), "float32"))


@python_if.fixed
def _(tf, keras):
    class FixedConditionalLayer(keras.layers.Layer):
        def __init__(self, threshold, **kwargs):
            super().__init__(**kwargs)
            self.threshold = threshold

        def call(self, inputs):
            def true_fn():
                return inputs * 2

            def false_fn():
                return inputs / 2

            return tf.cond(tf.reduce_sum(inputs) > self.threshold, true_fn, false_fn)

        def get_config(self):
            return {**super().get_config(), "threshold": self.threshold}

    return Built(FixedConditionalLayer(1.0), x=np.ones((4, 3), "float32"))


bool_no_autograph = layer_case(
    "python-bool-without-autograph",
    family="control-flow",
    tags=("autograph", "python-bool", "tf.where"),
    doc="""
    A layer whose `call` is marked `tf.autograph.experimental.do_not_convert`
    (the decorator hides the signature, so `call` takes `training`) uses a
    Python `if` on a tensor, so any traced graph sees a symbolic tensor used as
    a Python bool.  Fix: compute both results and pick with `tf.where`.
    """,
)


@bool_no_autograph.broken
def _(tf, keras):
    class ClipIfNegative(keras.layers.Layer):
        @tf.autograph.experimental.do_not_convert
        def call(self, inputs, training=None):
            if tf.reduce_any(inputs < 0):
                return tf.maximum(inputs, 0.0)
            return inputs

    return Built(ClipIfNegative(), x=np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3))


@bool_no_autograph.fixed
def _(tf, keras):
    class ClipIfNegative(keras.layers.Layer):
        @tf.autograph.experimental.do_not_convert
        def call(self, inputs, training=None):
            any_negative = tf.reduce_any(inputs < 0)
            return tf.where(any_negative, tf.maximum(inputs, 0.0), inputs)

    return Built(ClipIfNegative(), x=np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3))


for_over_tensor = layer_case(
    "python-for-over-tensor",
    family="control-flow",
    tags=("autograph", "iteration", "tf.map_fn"),
    doc="""
    A layer loops `for row in inputs:` to normalise each sample and stacks the
    rows; iterating a symbolic tensor needs AutoGraph and a known batch size.
    Fix: `tf.map_fn` over the batch (or a vectorised op).
    """,
)


@for_over_tensor.broken
def _(tf, keras):
    class RowNormalize(keras.layers.Layer):
        def call(self, inputs):
            rows = []
            for row in inputs:
                rows.append(row / (tf.reduce_sum(tf.abs(row)) + 1e-6))
            return tf.stack(rows)

    return Built(RowNormalize(), x=np.arange(12, dtype="float32").reshape(4, 3))


@for_over_tensor.fixed
def _(tf, keras):
    class RowNormalize(keras.layers.Layer):
        def call(self, inputs):
            return tf.map_fn(lambda row: row / (tf.reduce_sum(tf.abs(row)) + 1e-6), inputs)

    return Built(RowNormalize(), x=np.arange(12, dtype="float32").reshape(4, 3))
