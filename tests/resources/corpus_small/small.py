"""A two-case corpus for fast tests: one layer case, one script case."""
import numpy as np

from tfcanary.case import Built, Claim, layer_case, script_case

python_if = layer_case(
    "small-python-if",
    family="control-flow",
    source="tests",
    claim=Claim("TypeError", "Could not build a TypeSpec for KerasTensor"),
    doc="Python if on a tensor value inside call(), and the tf.cond repair.",
)


@python_if.broken
def _(tf, keras):
    class PyIf(keras.layers.Layer):
        def call(self, inputs):
            if tf.reduce_sum(inputs) > 0:
                return inputs * 2
            return inputs / 2

    return Built(PyIf(), x=np.ones((2, 3), "float32"))


@python_if.fixed
def _(tf, keras):
    class Cond(keras.layers.Layer):
        def call(self, inputs):
            return tf.cond(tf.reduce_sum(inputs) > 0, lambda: inputs * 2, lambda: inputs / 2)

    return Built(Cond(), x=np.ones((2, 3), "float32"))


kt_cond = script_case(
    "small-keras-tensor-cond",
    family="keras-tensor",
    source="tests",
    claim=None,
    doc="A KerasTensor passed to tf.cond.",
)


@kt_cond.broken
def _(tf, keras):
    inp = keras.Input(shape=(3,))
    tf.cond(tf.reduce_sum(inp) > 0, lambda: inp, lambda: inp)
