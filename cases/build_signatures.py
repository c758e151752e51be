"""``add_weight`` and ``build``: the signatures a custom layer is written against.

``Layer.add_weight`` took ``name`` first in Keras 2 and takes ``shape`` first in
Keras 3, so a positional argument means a different thing on each major.
``build(input_shape)`` receives a ``TensorShape`` (Keras 2) or a tuple
(Keras 3), never ``Dimension`` objects since TF 2.0, and ``None`` where the
model input leaves an axis open.  Layers that skip ``Layer.__init__`` or
``build(input_shape)``, or hold sublayers they never build, fail in ways that
changed between versions.
"""

import numpy as np

from tfcanary.case import Built, Claim, layer_case, script_case

_FAMILY = "build-signatures"
_GUIDE = "https://keras.io/guides/migrating_to_keras_3"


def _x(*shape):
    return np.linspace(-1, 1, int(np.prod(shape)), dtype="float32").reshape(shape)


# ---------------------------------------------------------------- add_weight

positional_name = layer_case(
    "add-weight-positional-name", family=_FAMILY,
    source="Layer.add_weight() misinterprets positional first argument as shape, raising "
           "\"got multiple values for argument shape\".",
    url="https://github.com/keras-team/keras/issues/22253",
    fidelity="verbatim",
    claim=Claim("TypeError", "got multiple values for argument 'shape'",
                where="self.add_weight(\"matrix\", shape=(...)) in build",
                versions="Keras 3, TensorFlow backend"),
    tags=("add_weight", "keras3-migration", "positional-args"),
    doc="""
    The report's MatrixLayer: `add_weight("matrix", shape=(num_fs, 4), ...)`
    with the name passed positionally, as Keras 2 code does.  A seeded
    initializer replaces "glorot_uniform".  Fix (the maintainers' answer in
    keras-team/keras#20299): pass `name=` as a keyword.
    """,
)


def _matrix_layer(keras, positional):
    class MatrixLayer(keras.layers.Layer):
        def build(self, input_shape):
            num_fs = int(input_shape[-1])
            init = keras.initializers.GlorotUniform(seed=0)
            if positional:
                self.matrix = self.add_weight("matrix", shape=(num_fs, 4), initializer=init,
                                              trainable=True)
            else:
                self.matrix = self.add_weight(name="matrix", shape=(num_fs, 4),
                                              initializer=init, trainable=True)

        def call(self, inputs):
            return inputs @ self.matrix

    return MatrixLayer()


@positional_name.broken
def _(tf, keras):
    return Built(_matrix_layer(keras, positional=True), x=_x(2, 3))


@positional_name.fixed
def _(tf, keras):
    return Built(_matrix_layer(keras, positional=False), x=_x(2, 3))


positional_shape = layer_case(
    "add-weight-positional-shape", family=_FAMILY,
    source="TypeError: add_weight() got multiple values for argument 'name'",
    url="https://github.com/Tony607/Keras_Deep_Clustering/issues/10",
    fidelity="adapted",
    claim=Claim("TypeError", "got multiple values for argument 'name'",
                where="self.add_weight((self.n_clusters, input_dim), initializer=..., "
                      "name='clusters')"),
    tags=("add_weight", "positional-args", "keras2"),
    doc="""
    The report's ClusteringLayer passes the shape positionally to
    `add_weight` and the name by keyword, which Keras 2's
    `add_weight(name=None, shape=None, ...)` reads as two names.  The
    `K.*` calls in `call` are written with `tf` ops and the input spec is
    dropped, so the layer runs on every Keras.  Fix: pass `shape=` by keyword.
    """,
)


def _clustering_layer(tf, keras, positional):
    class ClusteringLayer(keras.layers.Layer):
        def __init__(self, n_clusters, alpha=1.0, **kwargs):
            super(ClusteringLayer, self).__init__(**kwargs)
            self.n_clusters = n_clusters
            self.alpha = alpha

        def build(self, input_shape):
            assert len(input_shape) == 2
            input_dim = input_shape[1]
            init = keras.initializers.GlorotUniform(seed=0)
            if positional:
                self.clusters = self.add_weight((self.n_clusters, input_dim),
                                                initializer=init, name='clusters')
            else:
                self.clusters = self.add_weight(shape=(self.n_clusters, input_dim),
                                                initializer=init, name='clusters')
            self.built = True

        def call(self, inputs, **kwargs):
            q = 1.0 / (1.0 + (tf.reduce_sum(tf.square(tf.expand_dims(inputs, axis=1)
                                                      - self.clusters), axis=2) / self.alpha))
            q **= (self.alpha + 1.0) / 2.0
            return tf.transpose(tf.transpose(q) / tf.reduce_sum(q, axis=1))

        def get_config(self):
            return {**super().get_config(), "n_clusters": self.n_clusters, "alpha": self.alpha}

    return ClusteringLayer(3)


@positional_shape.broken
def _(tf, keras):
    return Built(_clustering_layer(tf, keras, positional=True), x=_x(4, 5))


@positional_shape.fixed
def _(tf, keras):
    return Built(_clustering_layer(tf, keras, positional=False), x=_x(4, 5))


without_name = layer_case(
    "add-weight-without-name", family=_FAMILY,
    source="TypeError: add_weight() takes at least 3 arguments (4 given)",
    url="https://github.com/keras-team/keras/issues/6721",
    fidelity="adapted",
    claim=Claim("TypeError", "add_weight() takes at least 3 arguments",
                where="self.add_weight(shape=kernel_shape, initializer='uniform', "
                      "trainable=True) without a name",
                versions="Keras 2.0 (May 2017)"),
    tags=("add_weight", "initializer-string", "keras2"),
    doc="""
    The report's MyLayer calls `add_weight(shape=..., initializer='uniform',
    trainable=True)` without `name`, which Keras 2.0 required.  Python 2
    prints are dropped, `input_dim/2` becomes `input_dim // 2` (the report ran
    Python 2), and `call` keeps only the matmul of half the features.  Fix
    (keras-team/keras#6741, the docs change that followed): pass `name=`.
    """,
)


def _half_layer(tf, keras, named):
    class MyLayer(keras.layers.Layer):
        def build(self, input_shape):
            input_dim = input_shape[-1]
            kernel_shape = [input_dim // 2, input_dim // 2]
            if named:
                self.kernel = self.add_weight(name='kernel', shape=kernel_shape,
                                              initializer='uniform', trainable=True)
            else:
                self.kernel = self.add_weight(shape=kernel_shape,
                                              initializer='uniform', trainable=True)
            super(MyLayer, self).build(input_shape)

        def call(self, x):
            half = x.shape[-1] // 2
            return tf.matmul(x[:, half:], self.kernel)

    return MyLayer()


@without_name.broken
def _(tf, keras):
    return Built(_half_layer(tf, keras, named=False), x=_x(2, 4), deterministic=False)


@without_name.fixed
def _(tf, keras):
    return Built(_half_layer(tf, keras, named=True), x=_x(2, 4), deterministic=False)


# ---------------------------------------------------------------- build(input_shape)

super_build = layer_case(
    "build-super-without-input-shape", family=_FAMILY,
    source="[Documentation] \"random_uniform\" initializer doesn't exists.",
    url="https://github.com/keras-team/keras/pull/5016",
    fidelity="adapted",
    claim=Claim("TypeError", "build() missing 1 required positional argument: 'input_shape'",
                where="super(...).build() at the end of build, as the docs skeleton had it",
                versions="Keras 1.2 (January 2017)"),
    tags=("build", "initializer-string", "super"),
    doc="""
    The docs skeleton the report fixes: `add_weight(shape=(input_shape[1],
    output_dim), initializer='random_uniform', trainable=True)` and a bare
    `super().build()`.  The report also says 'random_uniform' was not a known
    initializer then; it is one in every version here.  Fix (the report's):
    `super().build(input_shape)`.
    """,
)


def _skeleton_layer(keras, pass_shape):
    class MyLayer(keras.layers.Layer):
        def __init__(self, output_dim, **kwargs):
            self.output_dim = output_dim
            super(MyLayer, self).__init__(**kwargs)

        def build(self, input_shape):
            self.W = self.add_weight(name="W", shape=(input_shape[1], self.output_dim),
                                     initializer='random_uniform', trainable=True)
            if pass_shape:
                super(MyLayer, self).build(input_shape)
            else:
                super(MyLayer, self).build()  # Be sure to call this somewhere!

        def call(self, x):
            return x @ self.W

        def get_config(self):
            return {**super().get_config(), "output_dim": self.output_dim}

    return MyLayer(3)


@super_build.broken
def _(tf, keras):
    return Built(_skeleton_layer(keras, pass_shape=False), x=_x(2, 4), deterministic=False)


@super_build.fixed
def _(tf, keras):
    return Built(_skeleton_layer(keras, pass_shape=True), x=_x(2, 4), deterministic=False)


dimension_value = script_case(
    "build-dimension-value", family=_FAMILY,
    source="'int' object has no attribute 'value'",
    url="https://github.com/bonlime/keras-deeplab-v3-plus/issues/125",
    fidelity="adapted",
    claim=Claim("AttributeError", "'int' object has no attribute 'value'",
                where="in_channels = inputs.shape[-1].value in _inverted_res_block",
                versions="tensorflow-gpu 2.0.0"),
    tags=("TensorShape", "Dimension", "tf1-migration"),
    doc="""
    The report's DeepLabV3+ block reads the channel count of a Keras tensor
    with TF 1's `inputs.shape[-1].value`; since TF 2.0 a shape entry is an
    int.  Trimmed to an inverted-residual block on an (8, 8, 3) input.  Fix
    (the reporter's follow-up): `inputs.shape[-1]`.
    """,
)


def _inverted_res_block(keras, inputs, channels):
    x = keras.layers.Conv2D(channels * 2, kernel_size=1, padding="same")(inputs)
    x = keras.layers.DepthwiseConv2D(kernel_size=3, padding="same")(x)
    x = keras.layers.Conv2D(channels, kernel_size=1, padding="same")(x)
    return keras.layers.Add()([inputs, x])


@dimension_value.broken
def _(tf, keras):
    inputs = keras.Input(shape=(8, 8, 3))
    in_channels = inputs.shape[-1].value  # inputs._keras_shape[-1]
    keras.Model(inputs, _inverted_res_block(keras, inputs, in_channels))


@dimension_value.fixed
def _(tf, keras):
    inputs = keras.Input(shape=(8, 8, 3))
    in_channels = inputs.shape[-1]
    keras.Model(inputs, _inverted_res_block(keras, inputs, in_channels))


none_dimension = script_case(
    "build-none-dimension", family=_FAMILY,
    source="At `build()` only two last axis are numerics",
    url="https://github.com/keras-team/keras/issues/16315",
    fidelity="adapted",
    claim=Claim("ValueError", "",
                where="add_weight(shape=(1, input_shape[1], input_shape[2], units)) when build "
                      "gets (None, None, 25, 81) for (64, 7, 25, 81) data"),
    tags=("build", "add_weight", "None-dimension", "positional-embedding"),
    doc="""
    The report's PositionalEmbedding sizes a weight from `input_shape[1]`,
    which is `None` because the model input leaves the time axis open.  Here
    the input is `Input(shape=(None, 3, 4))` and the embedding has 2 units
    (the report: 25 patches, 81 features).  The report gives no fix; the fixed
    variant takes the maximum length as a constructor argument and slices the
    weight to the actual length in `call`, as KerasNLP's PositionEmbedding
    does (keras-team/keras-hub#47).
    """,
)


def _positional_embedding(tf, keras, max_length):
    class PositionalEmbedding(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super(PositionalEmbedding, self).__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            super(PositionalEmbedding, self).build(input_shape)
            length = input_shape[1] if max_length is None else max_length
            self.position = self.add_weight(
                name="position",
                shape=(1, length, input_shape[2], self.units),
                initializer=keras.initializers.TruncatedNormal(stddev=0.02, seed=0),
                trainable=True,
            )

        def call(self, inputs):
            position = self.position[:, :tf.shape(inputs)[1]]
            return tf.concat([inputs, tf.broadcast_to(
                position, tf.concat([tf.shape(inputs)[:-1], [self.units]], 0))], -1)

    inp = keras.Input(shape=(None, 3, 4))
    model = keras.Model(inp, PositionalEmbedding(2)(inp))
    y = model(_x(2, 5, 3, 4))
    assert tuple(y.shape) == (2, 5, 3, 6), y.shape


@none_dimension.broken
def _(tf, keras):
    _positional_embedding(tf, keras, max_length=None)


@none_dimension.fixed
def _(tf, keras):
    _positional_embedding(tf, keras, max_length=16)


# ---------------------------------------------------------------- construction

init_without_super = layer_case(
    "layer-init-without-super", family=_FAMILY,
    source="Custom Layer in tensorflow v2.0.0beta throws object has no attribute "
           "'_expects_mask_arg' error",
    url="https://github.com/tensorflow/tensorflow/issues/29562",
    fidelity="adapted",
    claim=Claim("AttributeError", "_expects_mask_arg",
                where="calling a layer whose __init__ has super().__init__() commented out",
                versions="TF 2.0.0-beta0"),
    tags=("__init__", "super", "tf.Variable"),
    doc="""
    The report's Reconstruction_Layer comments out `super().__init__()` and
    creates a trainable `tf.Variable` from `input_shape` in `__init__`; its
    NumPy buffers and image maths are dropped, `call` adds the variable.  The
    initializer is seeded.  Fix: call `super().__init__(**kwargs)` first (and
    create the weight with `add_weight`).
    """,
)


@init_without_super.broken
def _(tf, keras):
    class Reconstruction_Layer(keras.layers.Layer):
        def __init__(self, input_shape):
            # super(Reconstruction_Layer, self).__init__()
            w_init = tf.random_normal_initializer(seed=0)
            self.r_img = tf.Variable(initial_value=w_init(shape=input_shape),
                                     dtype='float32', trainable=True)

        def build(self, input_shape):
            super(Reconstruction_Layer, self).build(input_shape)

        def call(self, input_layer):
            return input_layer + self.r_img

    return Built(Reconstruction_Layer((4,)), x=_x(2, 4))


@init_without_super.fixed
def _(tf, keras):
    class Reconstruction_Layer(keras.layers.Layer):
        def __init__(self, shape, **kwargs):
            super(Reconstruction_Layer, self).__init__(**kwargs)
            self.shape = tuple(shape)
            self.r_img = self.add_weight(
                name="r_img", shape=self.shape,
                initializer=keras.initializers.RandomNormal(seed=0), trainable=True)

        def call(self, input_layer):
            return input_layer + self.r_img

        def get_config(self):
            return {**super().get_config(), "shape": self.shape}

    return Built(Reconstruction_Layer((4,)), x=_x(2, 4))


tuple_input = script_case(
    "subclassed-model-tuple-input", family=_FAMILY,
    source="Custom multi-input model with layer built in the constructor fails with ValueError",
    url="https://github.com/keras-team/keras-core/issues/324",
    fidelity="verbatim",
    claim=Claim("ValueError", "Cannot convert '((3, 3), (3, 2))' to a shape",
                where="model((X1, X2)) on a subclassed model whose call unpacks a, b = inputs",
                versions="keras-core (June 2023), TensorFlow backend"),
    tags=("build", "multi-input", "subclassed-model", "keras3"),
    doc="""
    The report's code with `keras` for `keras_core` and fixed NumPy data
    instead of `np.random.rand`: a subclassed model called on a tuple of two
    arrays, which Keras has to build from a tuple of shapes.  The thread has
    no user-side fix (it was fixed in keras-core), so no fixed variant.
    """,
)


@tuple_input.broken
def _(tf, keras):
    class MultiInputModel(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = keras.layers.Dense(10)

        def call(self, inputs):
            a, b = inputs
            r = self.dense1(a)
            return keras.layers.concatenate([r, b])

    model = MultiInputModel()
    X1 = _x(3, 3)
    X2 = _x(3, 2)
    model((X1, X2))


sublayer_state = layer_case(
    "build-sublayer-created-in-init", family=_FAMILY,
    source="Migrating Keras 2 code to multi-backend Keras 3: State-building issues",
    url=_GUIDE,
    fidelity="adapted",
    claim=Claim("ValueError", "looks like it has unbuilt state",
                where="training a model holding the layer (the guide: with the JAX backend)",
                versions="Keras 3"),
    tags=("build", "sublayer", "Embedding", "keras3-migration"),
    doc="""
    The guide's PositionalEmbedding creates an `Embedding` in `__init__`
    and calls it in `call()` without a `build()`, so Keras 3 has to build it
    by tracing `call`.  `keras.ops` calls are written with `tf` ops so the
    layer also runs on Keras 2; the embedding is seeded.  Fix (the guide's):
    a `build(input_shape)` that builds the sublayer.
    """,
)


def _positional_embedding_layer(tf, keras, with_build):
    class PositionalEmbedding(keras.layers.Layer):
        def __init__(self, sequence_length, output_dim, **kwargs):
            super().__init__(**kwargs)
            self.position_embeddings = keras.layers.Embedding(
                input_dim=sequence_length, output_dim=output_dim,
                embeddings_initializer=keras.initializers.RandomUniform(seed=0))
            self.sequence_length = sequence_length
            self.output_dim = output_dim

        if with_build:
            def build(self, input_shape):
                self.position_embeddings.build(input_shape)

        def call(self, inputs):
            inputs = tf.cast(inputs, self.compute_dtype)
            length = tf.shape(inputs)[1]
            positions = tf.range(start=0, limit=length, delta=1)
            embedded_positions = self.position_embeddings(positions)
            return inputs + embedded_positions

        def get_config(self):
            return {**super().get_config(), "sequence_length": self.sequence_length,
                    "output_dim": self.output_dim}

    return PositionalEmbedding(5, 4)


@sublayer_state.broken
def _(tf, keras):
    return Built(_positional_embedding_layer(tf, keras, with_build=False), x=_x(2, 5, 4))


@sublayer_state.fixed
def _(tf, keras):
    return Built(_positional_embedding_layer(tf, keras, with_build=True), x=_x(2, 5, 4))


graph_disconnected = script_case(
    "multi-input-layer-model-one-input", family=_FAMILY,
    source="Graph disconnected Error for multiple inputs layer",
    url="https://github.com/keras-team/keras/issues/10831",
    fidelity="verbatim",
    claim=Claim("ValueError", "Graph disconnected",
                where="Model(A, y) where y = test_layer()([A, B, C])",
                versions="Keras 2.2 (August 2018)"),
    tags=("build", "multi-input", "functional-api"),
    doc="""
    The report's three-input layer (its `build` takes the list of shapes,
    `call` sums `x[0] + x[1] + x[2]`) with (4, 4) inputs instead of
    (100, 100), wrapped in a model that lists only one of the three inputs.
    Fix: `Model([A, B, C], y)`.
    """,
)


def _three_input_layer(keras):
    class test_layer(keras.layers.Layer):
        def __init__(self, **kwargs):
            super(test_layer, self).__init__(**kwargs)

        def build(self, input_shape):
            super(test_layer, self).build(input_shape)

        def compute_output_shape(self, input_shape):
            return input_shape[2]

        def call(self, x, **kwargs):
            return x[0] + x[1] + x[2]

    A = keras.layers.Input(shape=(4, 4))
    B = keras.layers.Input(shape=(4, 4))
    C = keras.layers.Input(shape=(4, 4))
    return A, B, C, test_layer()([A, B, C])


@graph_disconnected.broken
def _(tf, keras):
    A, B, C, y = _three_input_layer(keras)
    keras.Model(A, y)


@graph_disconnected.fixed
def _(tf, keras):
    A, B, C, y = _three_input_layer(keras)
    model = keras.Model([A, B, C], y)
    out = model([_x(2, 4, 4)] * 3)
    assert tuple(out.shape) == (2, 4, 4), out.shape
