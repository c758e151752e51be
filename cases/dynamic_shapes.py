"""Shapes known only at run time: split sizes, scatter targets, the batch size.

The batch dimension is ``None`` while a functional model is built and concrete
when a layer is called on data, so code that treats it as a Python int or
splits along it works on one path and fails on the other.
"""

import numpy as np

from _sources import SEED_DYNAMIC_LAYER_SHAPES, SEED_TYPESPEC_CUSTOM_LAYER
from tfcanary.case import Built, Claim, layer_case, script_case


dynamic_split = layer_case(
    "split-along-batch-axis",
    family="dynamic-shapes",
    source=SEED_TYPESPEC_CUSTOM_LAYER,
    claim=Claim("TypeError", "Could not build a TypeSpec for KerasTensor",
                where="when the layer is used within a tf.function"),
    tags=("tf.split", "batch-dimension"),
    doc="""
    A layer splits its input into `num_splits` pieces along axis 0, the batch
    axis, whose size is unknown at build time; the batch here (5) is not
    divisible by 2.  The pieces are stacked so that the layer has one output
    (a Sequential model needs that; the source returns the list).  Fix: split along a static feature axis that divides evenly
    (the source's fix keeps the default `axis=0`, which changes nothing).
    """,
)


@dynamic_split.broken
def _(tf, keras):
    class DynamicSplitLayer(keras.layers.Layer):
        def __init__(self, num_splits, **kwargs):
            super().__init__(**kwargs)
            self.num_splits = num_splits

        def call(self, inputs):
            split_size = tf.shape(inputs)[0] // self.num_splits  # noqa: F841 (as in the source)
            return tf.stack(tf.split(inputs, self.num_splits, axis=0), axis=1)

    return Built(DynamicSplitLayer(2), x=np.arange(30, dtype="float32").reshape(5, 6))


@dynamic_split.fixed
def _(tf, keras):
    class FixedSplitLayer(keras.layers.Layer):
        def __init__(self, num_splits, axis=0, **kwargs):
            super().__init__(**kwargs)
            self.num_splits = num_splits
            self.axis = axis

        def call(self, inputs):
            return tf.stack(tf.split(inputs, self.num_splits, axis=self.axis), axis=1)

        def get_config(self):
            return {**super().get_config(), "num_splits": self.num_splits, "axis": self.axis}

    return Built(FixedSplitLayer(2, axis=1), x=np.arange(30, dtype="float32").reshape(5, 6))


scatter = layer_case(
    "scatter-dynamic-indices",
    family="dynamic-shapes",
    source=SEED_TYPESPEC_CUSTOM_LAYER,
    claim=Claim("TypeError", "Could not build a TypeSpec for KerasTensor",
                where="graph construction, indices computed dynamically"),
    tags=("tf.tensor_scatter_nd_update", "random"),
    doc="""
    A layer scatters random updates at random indices into a fixed (5, 5) zero
    tensor.  Fix per the source: take the target shape as a constructor argument
    (renamed from the source's `output_shape`, which is a read-only property of
    Keras layers) and draw integer indices inside it (the source's rounded
    `maxval=tf.reduce_max(output_shape)` can draw an out-of-range 5).
    """,
)


@scatter.broken
def _(tf, keras):
    class ScatterLayer(keras.layers.Layer):
        def call(self, inputs):
            indices = tf.cast(tf.math.round(tf.random.uniform(
                (tf.shape(inputs)[0], 2), minval=0, maxval=4)), dtype=tf.int32)
            updates = tf.random.normal((tf.shape(inputs)[0],))
            shape = (5, 5)
            return tf.tensor_scatter_nd_update(tf.zeros(shape, dtype=inputs.dtype), indices, updates)

    return Built(ScatterLayer(), x=np.ones((4, 3), "float32"), deterministic=False)


@scatter.fixed
def _(tf, keras):
    class FixedScatterLayer(keras.layers.Layer):
        def __init__(self, target_shape, **kwargs):
            super().__init__(**kwargs)
            self.target_shape = tuple(target_shape)

        def call(self, inputs):
            n = tf.shape(inputs)[0]
            indices = tf.random.uniform((n, 2), minval=0, maxval=min(self.target_shape),
                                        dtype=tf.int32)
            updates = tf.random.normal((n,), dtype=inputs.dtype)
            return tf.tensor_scatter_nd_update(
                tf.zeros(self.target_shape, dtype=inputs.dtype), indices, updates)

        def get_config(self):
            return {**super().get_config(), "target_shape": list(self.target_shape)}

    return Built(FixedScatterLayer((5, 5)), x=np.ones((4, 3), "float32"), deterministic=False)


batch_as_int = layer_case(
    "batch-dim-as-python-int",
    family="dynamic-shapes",
    tags=("batch-dimension", "tf.shape", "static-shape"),
    doc="""
    A layer appends a column of ones built with `tf.ones((inputs.shape[0], 1))`;
    the static batch size is None in a functional model.  Fix: use the dynamic
    `tf.shape(inputs)[0]`.
    """,
)


@batch_as_int.broken
def _(tf, keras):
    class AppendOnes(keras.layers.Layer):
        def call(self, inputs):
            ones = tf.ones((inputs.shape[0], 1), dtype=inputs.dtype)
            return tf.concat([inputs, ones], axis=1)

    return Built(AppendOnes(), x=np.zeros((4, 3), "float32"))


@batch_as_int.fixed
def _(tf, keras):
    class AppendOnes(keras.layers.Layer):
        def call(self, inputs):
            ones = tf.ones((tf.shape(inputs)[0], 1), dtype=inputs.dtype)
            return tf.concat([inputs, ones], axis=1)

    return Built(AppendOnes(), x=np.zeros((4, 3), "float32"))


lambda_pad = script_case(
    "lambda-pad-sequences",
    family="dynamic-shapes",
    source=SEED_DYNAMIC_LAYER_SHAPES,
    claim=Claim(None, where="model.fit on variable-length sequences"),
    tags=("Lambda", "pad_sequences", "variable-length", "LSTM"),
    doc="""
    A functional model pads a variable-length `Input(shape=(None,))` inside a
    `Lambda` with the NumPy utility `pad_sequences`, then feeds an LSTM and fits
    on a list of ragged arrays.  Fix: pad the data before the model, give the
    Input the padded length and a feature axis for the LSTM.
    """,
)


def _pad_sequences_fn(keras):
    # keras.preprocessing.sequence on Keras 2, keras.utils on Keras 3.
    utils = getattr(keras, "utils", None)
    if utils is not None and hasattr(utils, "pad_sequences"):
        return utils.pad_sequences
    return keras.preprocessing.sequence.pad_sequences


@lambda_pad.broken
def _(tf, keras):
    pad = _pad_sequences_fn(keras)

    def pad_sequences(sequences, maxlen):
        return pad(sequences, maxlen=maxlen, padding="post")

    inputs = keras.Input(shape=(None,))
    x = keras.layers.Lambda(lambda seq: pad_sequences(seq, maxlen=20))(inputs)
    x = keras.layers.LSTM(8)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x_train = [rng.random(i).astype("float32") for i in range(10, 26)]
    y_train = keras.utils.to_categorical(rng.integers(0, 10, len(x_train)), num_classes=10)
    model.fit(x_train, y_train, epochs=1, verbose=0)


@lambda_pad.fixed
def _(tf, keras):
    pad = _pad_sequences_fn(keras)
    maxlen = 20
    rng = np.random.default_rng(0)
    x_train = [rng.random(i).astype("float32") for i in range(10, 26)]
    x_train = pad(x_train, maxlen=maxlen, padding="post", dtype="float32")
    y_train = keras.utils.to_categorical(rng.integers(0, 10, len(x_train)), num_classes=10)

    inputs = keras.Input(shape=(maxlen,))
    x = keras.layers.Reshape((maxlen, 1))(inputs)
    x = keras.layers.LSTM(8)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x_train, y_train, epochs=1, verbose=0)


padded_batch = script_case(
    "padded-batch-dense-input-none",
    family="dynamic-shapes",
    source=SEED_DYNAMIC_LAYER_SHAPES,
    claim=Claim(None, where="model.fit(dataset)"),
    tags=("tf.data", "padded_batch", "Dense", "variable-length"),
    doc="""
    Variable-length vectors are batched with `padded_batch(padded_shapes=([None], []))`
    and fed to `Dense(64, input_shape=(None,))`; Dense needs a defined last axis.
    The source builds the dataset with `from_tensor_slices` on a list of
    different-length tensors, which cannot run; a generator is used instead.
    Fix: pad to a fixed length and declare it.
    """,
)


def _ragged_dataset(tf, padded_shapes):
    def gen():
        rng = np.random.default_rng(0)
        for i in range(10, 30):
            yield rng.standard_normal(i).astype("float32"), np.int32(rng.integers(0, 10))

    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        tf.TensorSpec(shape=(None,), dtype=tf.float32),
        tf.TensorSpec(shape=(), dtype=tf.int32)))
    return ds.padded_batch(batch_size=32, padded_shapes=padded_shapes)


@padded_batch.broken
def _(tf, keras):
    dataset = _ragged_dataset(tf, ([None], []))
    model = keras.Sequential([
        keras.layers.Dense(64, activation="relu", input_shape=(None,)),
        keras.layers.Dense(10),
    ])
    model.compile(loss="mse", optimizer="adam")
    model.fit(dataset, epochs=1, verbose=0)


@padded_batch.fixed
def _(tf, keras):
    maxlen = 32
    dataset = _ragged_dataset(tf, ([maxlen], []))
    model = keras.Sequential([
        keras.Input(shape=(maxlen,)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10),
    ])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer="adam")
    model.fit(dataset, epochs=1, verbose=0)
