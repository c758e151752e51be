"""Masking and ragged inputs.

A mask made by ``Masking`` or ``Embedding(mask_zero=True)`` reaches a custom
layer only when that layer opts in (``supports_masking``, a ``mask`` argument
in ``call``) and only along paths Keras propagates (nested models, merge
layers).  Keras 2 accepted ``tf.RaggedTensor`` inputs through
``Input(ragged=True)``; Keras 3 has no ``ragged`` argument and supports ragged
tensors only in a few layers.  Fixed variants follow the fix the report or the
maintainers give.
"""

import numpy as np

from tfcanary.case import Claim, script_case

_FAMILY = "masking-ragged"


# --------------------------------------------------------------- masks into custom layers

two_masks = script_case(
    "mask-list-into-custom-layer", family=_FAMILY,
    source="Masking does not work in keras 3.0.5",
    url="https://github.com/keras-team/keras/issues/19311",
    fidelity="adapted",
    claim=Claim("AssertionError", "got mask=None",
                where="no exception in the report: in Keras 3.0.5 the custom layer's call always "
                "gets mask=None (tf_keras passes both masks); the case asserts a mask arrives",
                versions="Keras 3.0.5"),
    tags=("Masking", "supports_masking", "keras3-migration", "multi-input"),
    doc="""
    The report's `MyLayer` (supports_masking, `compute_mask`, `call(inputs,
    mask=None)`) gets two `Masking`-ed inputs.  The case records whether `call`
    received a mask when the model runs on data with a padded step, and fails
    when it did not.  No fixed variant: the report's workaround is to use
    `tf_keras`, and the issue is open.
    """,
)


@two_masks.broken
def _(tf, keras):
    class MyLayer(keras.layers.Layer):
        def __init__(self, *args, **kwargs):
            self.supports_masking = True
            super(MyLayer, self).__init__(*args, **kwargs)
            self.seen_masks = []

        def compute_mask(self, inputs, mask=None):
            if isinstance(mask, list):
                mask = mask[1]
            return [mask, mask]

        def call(self, inputs, mask=None, **kwargs):
            input_a, input_b = inputs
            output = input_b[..., 0]
            self.seen_masks.append(mask is not None)
            if mask is not None:
                assert isinstance(mask, list)
                mask = mask[1]
                if mask is not None:
                    output = tf.where(mask, output, tf.zeros_like(output))
            output = tf.expand_dims(output, axis=-1)
            return output

    input_a = keras.layers.Input(shape=(None, 2))
    input_b = keras.layers.Input(shape=(None, 2))
    input_a_masked = keras.layers.Masking()(input_a)
    input_b_masked = keras.layers.Masking()(input_b)
    my_layer = MyLayer()
    output = my_layer([input_a_masked, input_b_masked])
    model = keras.Model([input_a, input_b], output)
    data = np.array([[[1.0, 1.0], [2.0, 2.0], [0.0, 0.0]]], "float32")
    model([data, data])
    assert my_layer.seen_masks and my_layer.seen_masks[-1], \
        f"MyLayer.call got mask=None (calls: {my_layer.seen_masks})"


merge_mask = script_case(
    "merge-layer-drops-mask", family=_FAMILY,
    source="Merge layers do not pass masks to the `compute_mask` function",
    url="https://github.com/keras-team/keras/issues/19817",
    fidelity="adapted",
    claim=Claim("AssertionError", where="the report's own `assert hasattr(x, '_keras_mask')` fails "
                "after Add()([a, b]); the same code works with Keras 2.15",
                versions="Keras 3.3, TF 2.16.1"),
    tags=("merge", "Add", "_keras_mask", "keras3-migration"),
    doc="""
    The report's Keras 2.15 form: two `tf.random.uniform([1, 2, 256])` tensors
    carrying `_keras_mask` attributes go through `layers.Add()`; the case
    asserts the output carries a mask.  No fixed variant: the thread gives
    none.
    """,
)


@merge_mask.broken
def _(tf, keras):
    a = tf.random.uniform([1, 2, 256], dtype="float32", seed=1)
    b = tf.random.uniform([1, 2, 256], dtype="float32", seed=2)
    a._keras_mask = tf.convert_to_tensor([[True, False]])
    b._keras_mask = tf.convert_to_tensor([[True, False]])
    add_op = keras.layers.Add()
    x = add_op([a, b])
    assert hasattr(x, "_keras_mask"), "the Add output has no _keras_mask"


nested_sequential = script_case(
    "mask-into-nested-sequential", family=_FAMILY,
    source="Mask is not propagated into Sequential keras layers",
    url="https://github.com/tensorflow/tensorflow/issues/31638",
    fidelity="verbatim",
    claim=Claim("AssertionError", where="the Lambda inside the nested Sequential gets mask=None",
                versions="TF 1.14.0, 2.0.0b"),
    tags=("Masking", "nested-model", "Lambda"),
    doc="""
    `Masking(0, input_shape=[1])` then a nested `Sequential([Lambda(check_mask)])`
    whose function asserts it receives a mask; the model is then called on
    [[0.], [1.]].  Fix (the report's working form): put the Lambda in the
    outer Sequential.
    """,
)


def _check_mask(inputs, mask=None):
    assert mask is not None
    return inputs


@nested_sequential.broken
def _(tf, keras):
    model = keras.models.Sequential([
        keras.layers.Masking(0, input_shape=[1]),
        keras.models.Sequential([
            keras.layers.Lambda(_check_mask),
        ]),
    ])
    model(np.array([[0.0], [1.0]], "float32"))


@nested_sequential.fixed
def _(tf, keras):
    model = keras.models.Sequential([
        keras.layers.Masking(0, input_shape=[1]),
        keras.layers.Lambda(_check_mask),
    ])
    model(np.array([[0.0], [1.0]], "float32"))


mean_pool = script_case(
    "custom-pooling-ignores-mask", family=_FAMILY,
    source="Add example for writing a mask-supporting layer",
    url="https://github.com/keras-team/keras/pull/8973",
    fidelity="reconstructed",
    claim=Claim("AssertionError", "pooled",
                where="no exception: fchollet says a layer that uses a mask sets supports_masking "
                "and takes a `mask` argument in call; the case asserts the padding is not "
                "averaged in", versions="Keras 2 (January 2018)"),
    tags=("Embedding", "mask_zero", "supports_masking", "pooling"),
    doc="""
    Embedding(10, 2, mask_zero=True) with a fixed table, then a custom mean
    pooling over time that ignores the mask, on two rows padded with 0.  The
    case compares with the mean over the real tokens.  Fix (fchollet's two
    rules): `supports_masking = True` and a masked mean in `call(inputs,
    mask=None)`.
    """,
)


def _pool_model(keras, pool):
    table = np.arange(20, dtype="float32").reshape(10, 2)
    inp = keras.Input(shape=(4,), dtype="int32")
    emb = keras.layers.Embedding(10, 2, mask_zero=True)
    model = keras.Model(inp, pool(emb(inp)))
    emb.set_weights([table])
    ids = np.array([[1, 2, 0, 0], [3, 4, 5, 0]], "int32")
    got = np.asarray(model(ids))
    expected = np.stack([table[[1, 2]].mean(0), table[[3, 4, 5]].mean(0)])
    assert np.allclose(got, expected), f"pooled {got.tolist()}, expected {expected.tolist()}"


@mean_pool.broken
def _(tf, keras):
    class MeanOverTime(keras.layers.Layer):
        def call(self, inputs):
            return tf.reduce_mean(inputs, axis=1)

    _pool_model(keras, MeanOverTime())


@mean_pool.fixed
def _(tf, keras):
    class MeanOverTime(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def call(self, inputs, mask=None):
            if mask is None:
                return tf.reduce_mean(inputs, axis=1)
            weights = tf.cast(mask, inputs.dtype)[..., None]
            return tf.reduce_sum(inputs * weights, axis=1) / tf.reduce_sum(weights, axis=1)

        def compute_mask(self, inputs, mask=None):
            return None

    _pool_model(keras, MeanOverTime())


positional_mask = script_case(
    "positional-embedding-compute-mask", family=_FAMILY,
    source="Potential bug in mask propagation",
    url="https://github.com/keras-team/keras/issues/18543",
    fidelity="adapted",
    claim=Claim("AssertionError", "no mask reached",
                where="no exception in the report: works with tf.keras, Keras 3 warns that the "
                "mask is not propagated; the case asserts the next layer gets a mask",
                versions="Keras 3 preview (October 2023)"),
    tags=("compute_mask", "Embedding", "keras3-migration", "nested-layer"),
    doc="""
    The report's `PositionalEmbedding` (token and position Embedding
    sublayers, `supports_masking`, `compute_mask` = ids != 0) feeds a layer
    that records the mask it receives; the model is called on ids padded with
    0.  `compute_mask` gets KerasTensors on Keras 3, so there it uses
    `keras.ops.not_equal` (the report's Keras 3 version is not shown) and
    `tf.math.not_equal` on Keras 2.  The case fails when no mask arrives.  No fixed variant: the thread
    gives none.
    """,
)


@positional_mask.broken
def _(tf, keras):
    layers = keras.layers
    ops = getattr(keras, "ops", None)
    not_equal = ops.not_equal if ops is not None else tf.math.not_equal

    class PositionalEmbedding(layers.Layer):
        def __init__(self, seq_length, input_dim, output_dim, **kwargs):
            super().__init__(**kwargs)
            self.seq_length = seq_length
            self.input_dim = input_dim
            self.output_dim = output_dim
            self.token_embeddings = layers.Embedding(input_dim=input_dim, output_dim=output_dim)
            self.position_embeddings = layers.Embedding(input_dim=seq_length, output_dim=output_dim)
            self.supports_masking = True

        def call(self, inputs):
            seq_length = tf.shape(inputs)[-1]
            positions = tf.range(start=0, limit=seq_length, delta=1)
            embedded_tokens = self.token_embeddings(inputs)
            embedded_positions = self.position_embeddings(positions)
            return embedded_tokens + embedded_positions

        def compute_mask(self, inputs, mask=None):
            return not_equal(inputs, 0)

    class MaskProbe(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True
            self.seen = []

        def call(self, inputs, mask=None):
            self.seen.append(mask is not None)
            return inputs

    inp = keras.Input(shape=(None,), dtype="int64")
    probe = MaskProbe()
    model = keras.Model(inp, probe(PositionalEmbedding(4, 10, 2)(inp)))
    model(np.array([[1, 2, 0, 0]], "int64"))
    assert probe.seen and probe.seen[-1], f"no mask reached the next layer (calls: {probe.seen})"


# --------------------------------------------------------------- ragged inputs

ragged_input = script_case(
    "ragged-input-argument", family=_FAMILY,
    source="RaggedTensor",
    url="https://github.com/keras-team/keras/issues/19646",
    fidelity="adapted",
    claim=Claim("TypeError", "got an unexpected keyword argument 'ragged'",
                where="tf.keras.layers.Input(shape=[None], dtype=tf.int64, ragged=True)",
                versions="TF 2.16.1, Keras 3"),
    tags=("ragged", "Input", "Embedding", "keras3-migration"),
    doc="""
    `Input(shape=[None], dtype=tf.int64, ragged=True)` -> `Embedding(input_dim,
    16)` model (the vocabulary came from a `TextVectorization(ragged=True)`;
    here a fixed 10-token vocabulary), called on a `tf.ragged.constant` batch.
    Fix (fchollet's answer): drop `ragged` and feed padded ids
    (`RaggedTensor.to_tensor()`).
    """,
)


def _ragged_ids(tf):
    return tf.ragged.constant([[1, 2, 3], [4, 5]], dtype=tf.int64)


@ragged_input.broken
def _(tf, keras):
    inputs = keras.layers.Input(shape=[None], dtype=tf.int64, ragged=True)
    x = keras.layers.Embedding(input_dim=10, output_dim=16)(inputs)
    m = keras.Model(inputs=inputs, outputs=x)
    out = m(_ragged_ids(tf))
    assert out.shape[0] == 2 and out.shape[-1] == 16, out.shape


@ragged_input.fixed
def _(tf, keras):
    inputs = keras.layers.Input(shape=[None], dtype=tf.int64)
    x = keras.layers.Embedding(input_dim=10, output_dim=16, mask_zero=True)(inputs)
    m = keras.Model(inputs=inputs, outputs=x)
    out = m(_ragged_ids(tf).to_tensor())
    assert tuple(out.shape) == (2, 3, 16), out.shape


embedding_ragged = script_case(
    "embedding-called-on-ragged", family=_FAMILY,
    source="Keras support for RaggedTensors",
    url="https://github.com/tensorflow/tensorflow/issues/27170",
    fidelity="reconstructed",
    claim=Claim("TypeError", "Failed to convert object of type", where="an Embedding layer called on "
                "a RaggedTensor", versions="TF 2.0.0"),
    tags=("ragged", "Embedding"),
    doc="""
    A single Embedding(10, 2) layer called directly on a
    `tf.ragged.constant` batch of token ids (the report's minimal example is
    described, not shown, past the error).  Fix: pad with `to_tensor()` and
    mask the padding with `mask_zero=True`, the route fchollet gives for
    ragged inputs in keras-team/keras#19646.
    """,
)


@embedding_ragged.broken
def _(tf, keras):
    emb = keras.layers.Embedding(10, 2)
    out = emb(tf.ragged.constant([[[1, 2], [3]], [[4]]]))
    assert out.shape[-1] == 2, out.shape


@embedding_ragged.fixed
def _(tf, keras):
    emb = keras.layers.Embedding(10, 2, mask_zero=True)
    ids = tf.ragged.constant([[[1, 2], [3]], [[4]]]).to_tensor()
    out = emb(ids)
    assert tuple(out.shape) == (2, 2, 2, 2), out.shape


ragged_concat = script_case(
    "ragged-concatenate-without-ragged-input", family=_FAMILY,
    source="Roadmap for RaggedTensor?",
    url="https://github.com/keras-team/keras/issues/20073",
    fidelity="verbatim",
    claim=Claim(None, where="a maintainer's example of the partial ragged support: Concatenate on "
                "ragged tensors through Sequential and a functional model with plain Inputs",
                versions="Keras 3 (August 2024)"),
    tags=("ragged", "Concatenate", "keras3-migration"),
    doc="""
    The maintainer's example in the thread: `Concatenate(axis=0)` on two
    `tf.ragged.constant` batches, in a `Sequential` and in a functional model
    whose `Input(shape=(None,))` has no `ragged` flag, called directly and
    with `predict`.  No fixed variant: the thread presents this as working code.
    """,
)


@ragged_concat.broken
def _(tf, keras):
    x1 = tf.ragged.constant([[1, 2], [3], [4, 5, 6]])
    x2 = tf.ragged.constant([[7], [8, 9, 10], [11, 12]])

    model1 = keras.Sequential([keras.layers.Concatenate(axis=0)])
    model1([x1, x2])
    model1.predict([x1, x2], verbose=0)

    input1 = keras.Input(shape=(None,))
    input2 = keras.Input(shape=(None,))
    output = keras.layers.Concatenate(axis=0)([input1, input2])
    model2 = keras.Model(inputs=[input1, input2], outputs=output)
    model2([x1, x2])
    model2.predict([x1, x2], verbose=0)


ragged_passthrough = script_case(
    "ragged-input-straight-to-output", family=_FAMILY,
    source="Ragged tensor input for keras.Model",
    url="https://github.com/tensorflow/tensorflow/issues/38714",
    fidelity="reconstructed",
    claim=Claim("ValueError", "does not support RaggedTensors as input",
                where="a ragged Input that is not used or is connected straight to the output",
                versions="TF 2.1.0"),
    tags=("ragged", "Input", "functional-api"),
    doc="""
    A model with a ragged `Input(shape=(None, 1), ragged=True)` connected
    straight to its output, called on a `tf.ragged.constant` batch.  No fixed
    variant: the thread gives none.
    """,
)


@ragged_passthrough.broken
def _(tf, keras):
    inp = keras.Input(shape=(None, 1), ragged=True)
    model = keras.Model(inp, inp)
    out = model(tf.ragged.constant([[[1.0], [2.0]], [[3.0]]], ragged_rank=1))
    assert isinstance(out, tf.RaggedTensor), type(out)
