"""Standard workloads for the eager/graph/XLA timing (not failure cases).

Each is a layer case whose ``broken`` and ``fixed`` variants are the same
function: the corpus loader requires a ``broken`` variant, and nothing here is
broken.  They carry the tag ``workload`` and live outside ``cases/`` so that
the failure corpus, its reports and snapshots never see them; the timer loads
this folder beside ``cases/`` (``--cases cases --cases workloads``).

``workload-train-step`` carries the tag ``train-step``: the timer times a full
training step (forward, MSE loss, gradients, SGD update) instead of a call.
"""

import numpy as np

from tfcanary.case import Built, layer_case

TAGS = ("workload",)


def _rng():
    return np.random.default_rng(0)


def _workload(id, doc, tags=()):
    case = layer_case(id, family="workload", tags=TAGS + tuple(tags), doc=doc)

    def register(fn):
        case.broken(fn)
        case.fixed(fn)
        return fn

    return register


@_workload("workload-dense-stack", "Four Dense(128, relu) layers on a (16, 64) batch.")
def _(tf, keras):
    model = keras.Sequential([keras.layers.Dense(128, activation="relu") for _ in range(4)])
    return Built(model, x=_rng().random((16, 64), dtype=np.float32))


@_workload("workload-conv-block", "Conv2D(16)-Conv2D(16)-MaxPool-GlobalAveragePool on (8, 32, 32, 3).")
def _(tf, keras):
    model = keras.Sequential([
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.GlobalAveragePooling2D(),
    ])
    return Built(model, x=_rng().random((8, 32, 32, 3), dtype=np.float32))


@_workload("workload-lstm", "LSTM(32) over 20 steps of 16 features, batch 8.", tags=("rnn",))
def _(tf, keras):
    return Built(keras.layers.LSTM(32), x=_rng().random((8, 20, 16), dtype=np.float32))


@_workload("workload-attention",
           "A transformer block: 4-head self-attention, residual, LayerNorm, on (8, 16, 64).")
def _(tf, keras):
    class AttentionBlock(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.mha = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)
            self.norm = keras.layers.LayerNormalization()

        def call(self, x):
            return self.norm(x + self.mha(x, x))

    return Built(AttentionBlock(), x=_rng().random((8, 16, 64), dtype=np.float32))


@_workload("workload-train-step",
           "One full training step (forward, MSE, gradients, SGD update) of a 3-layer MLP, batch 32.",
           tags=("train-step",))
def _(tf, keras):
    model = keras.Sequential([
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ])
    return Built(model, x=_rng().random((32, 64), dtype=np.float32),
                 y=_rng().random((32, 10), dtype=np.float32))
