"""Imports Keras 2's private module path: collects on Keras 2, not on Keras 3."""

from keras.src.engine import base_layer


def test_base_layer_is_a_class():
    assert isinstance(base_layer.Layer, type)
