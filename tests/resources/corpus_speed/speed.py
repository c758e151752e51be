"""Cases whose timed modes fail: the timer records the failure and goes on."""

import numpy as np

from tfcanary.case import Built, layer_case

xla = layer_case("speed-xla-unsupported", family="speed-test",
                 doc="tf.numpy_function has no XLA kernel: graph works, XLA raises.")


@xla.broken
@xla.fixed
def _(tf, keras):
    class HostSquare(keras.layers.Layer):
        def call(self, x):
            y = tf.numpy_function(lambda a: a * a, [x], tf.float32)
            y.set_shape(x.shape)
            return y

    return Built(HostSquare(), x=np.ones((4, 3), "float32"))


eager = layer_case("speed-eager-raises", family="speed-test",
                   doc="The fixed variant raises in every mode: no ratio at all.")


@eager.broken
@eager.fixed
def _(tf, keras):
    class Raises(keras.layers.Layer):
        def call(self, x):
            raise ValueError("always")

    return Built(Raises(), x=np.ones((4, 3), "float32"))
