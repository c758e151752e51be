"""A small package of custom layers, as a team's own code would be."""

import tensorflow as tf


class Scale(tf.keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


class Projection(tf.keras.layers.Layer):
    """Passes add_weight's name positionally, as Keras 2 code does (Keras 3 refuses it)."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight("w", shape=(int(input_shape[-1]), self.units), initializer="ones")

    def call(self, x):
        return tf.matmul(x, self.w)
