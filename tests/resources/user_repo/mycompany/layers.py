import tensorflow as tf


class GatedResidual(tf.keras.layers.Layer):
    """x + sigmoid(x @ g) * gelu(x @ w): a residual block with a learned gate."""

    def __init__(self, positional_names=False, **kwargs):
        super().__init__(**kwargs)
        self.positional_names = positional_names

    def build(self, input_shape):
        n = int(input_shape[-1])
        init = tf.keras.initializers.GlorotUniform(seed=0)
        if self.positional_names:      # Keras 2 style: Keras 3 refuses it
            self.w = self.add_weight("w", shape=(n, n), initializer=init)
            self.g = self.add_weight("g", shape=(n, n), initializer=init)
        else:
            self.w = self.add_weight(name="w", shape=(n, n), initializer=init)
            self.g = self.add_weight(name="g", shape=(n, n), initializer=init)

    def call(self, x):
        h = tf.nn.gelu(tf.matmul(x, self.w))
        gate = tf.sigmoid(tf.matmul(x, self.g))
        return x + gate * h

    def get_config(self):
        return {**super().get_config(), "positional_names": self.positional_names}
