"""Mixed precision: dtype policies, float16/bfloat16 compute, loss scaling.

Under ``mixed_float16`` / ``mixed_bfloat16`` a layer computes in half
precision and keeps float32 variables; Keras casts the layer's floating
inputs and variables, not the tensors its ``call`` creates (random noise,
``tf.constant``), so float32 values meet float16 ones.  Keras 3 reworked
``LossScaleOptimizer`` (``scale_loss`` replaces ``get_scaled_loss``).  Cases
set the policy per layer with ``dtype=``; the one that needs the global
policy restores it in ``try``/``finally``.  Fixed variants follow the fix the
report, the maintainers or the Policy API documentation give.
"""

import contextlib

import numpy as np

from tfcanary.case import Built, Claim, layer_case, script_case

_FAMILY = "mixed-precision"


@contextlib.contextmanager
def _global_policy(keras, name):
    """Set the global dtype policy for the block and restore the previous one."""
    mp = keras.mixed_precision
    previous = mp.global_policy()
    mp.set_global_policy(name)
    try:
        yield
    finally:
        mp.set_global_policy(previous)


# --------------------------------------------------------------- loss scaling

loss_scale = script_case(
    "loss-scale-optimizer-get-scaled-loss", family=_FAMILY,
    source="Using `LossScaleOptimizer` with TF 2.16.1",
    url="https://github.com/keras-team/keras/issues/19479",
    fidelity="adapted",
    claim=Claim("AttributeError", "has no attribute 'get_scaled_loss'",
                where="custom training step following the TF mixed precision guide",
                versions="TF 2.16.1, Keras 3"),
    tags=("loss-scaling", "LossScaleOptimizer", "custom-training-loop", "keras3-migration"),
    doc="""
    The TF mixed precision guide's custom training step: `get_scaled_loss`,
    `tape.gradient`, `get_unscaled_gradients`, `apply_gradients`, on a
    Dense(2, dtype="mixed_float16") model with a float32 output layer.  Fix
    (the report's, confirmed by fchollet): `optimizer.scale_loss(loss)`; Keras
    3's `apply_gradients` unscales.  `scale_loss` is Keras 3 only, so the fixed
    variant fails on Keras 2.
    """,
)


def _lso_model(keras):
    model = keras.Sequential([
        keras.Input(shape=(4,)),
        keras.layers.Dense(2, dtype="mixed_float16", kernel_initializer="ones"),
        keras.layers.Activation("linear", dtype="float32"),
    ])
    optimizer = keras.mixed_precision.LossScaleOptimizer(keras.optimizers.SGD(0.01))
    x = np.linspace(-1, 1, 16, dtype="float32").reshape(4, 4)
    y = np.zeros((4, 2), "float32")
    return model, optimizer, x, y


@loss_scale.broken
def _(tf, keras):
    model, optimizer, x, y = _lso_model(keras)
    loss_object = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        predictions = model(x)
        loss = loss_object(y, predictions)
        scaled_loss = optimizer.get_scaled_loss(loss)
    scaled_gradients = tape.gradient(scaled_loss, model.trainable_variables)
    gradients = optimizer.get_unscaled_gradients(scaled_gradients)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))


@loss_scale.fixed
def _(tf, keras):
    model, optimizer, x, y = _lso_model(keras)
    loss_object = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = loss_object(y, y_pred)
        scaled_loss = optimizer.scale_loss(loss)
    gradients = tape.gradient(scaled_loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))


# --------------------------------------------------------------- float32 values in half-precision calls

gaussian_dropout = script_case(
    "gaussian-dropout-mixed-bfloat16", family=_FAMILY,
    source="Keras with TF backend GaussianDropout gives error with mixed_bfloat16",
    url="https://github.com/keras-team/keras/issues/19437",
    fidelity="adapted",
    claim=Claim("TypeError", "Input 'y' of 'Mul' Op has type float32 that does not match type bfloat16",
                where="GaussianDropout.call() during training", versions="Keras 3.1.1, TF 2.16.1"),
    tags=("bfloat16", "GaussianDropout", "random", "keras3-migration"),
    doc="""
    Dense -> GaussianDropout -> Dense called in training mode with the layers
    on `mixed_bfloat16` inside `tf.function` (the report trains with `fit` and
    the global policy; here one traced training-mode call and `dtype=` per
    layer).  Fix: run the noise layer in float32 (`dtype="float32"`), the
    per-layer override the Policy API documentation shows; the report's own
    workaround, `set_floatx('bfloat16')`, changes the variables too.
    """,
)


def _noise_model(tf, keras, noise_layer, policy):
    model = keras.Sequential([keras.Input(shape=(8,)),
                              keras.layers.Dense(8, dtype=policy, kernel_initializer="ones"),
                              noise_layer,
                              keras.layers.Dense(1, dtype="float32", kernel_initializer="ones")])
    x = np.linspace(-1, 1, 32, dtype="float32").reshape(4, 8)
    # A traced training-mode call: the graph path `fit` takes, without its cost.
    out = tf.function(lambda t: model(t, training=True))(tf.constant(x))
    assert tuple(out.shape) == (4, 1), out.shape


@gaussian_dropout.broken
def _(tf, keras):
    _noise_model(tf, keras, keras.layers.GaussianDropout(0.1, dtype="mixed_bfloat16", seed=1),
                 "mixed_bfloat16")


@gaussian_dropout.fixed
def _(tf, keras):
    _noise_model(tf, keras, keras.layers.GaussianDropout(0.1, dtype="float32", seed=1),
                 "mixed_bfloat16")


alpha_dropout = script_case(
    "alpha-dropout-mixed-float16", family=_FAMILY,
    source="AlphaDropout & mixed_float16 - Op has type float32 that does not match type float16",
    url="https://github.com/tensorflow/tensorflow/issues/35883",
    fidelity="reconstructed",
    claim=Claim("ValueError", "Tensor conversion requested dtype float16 for Tensor with dtype float32",
                where="AlphaDropout in training under mixed_float16", versions="TF 2.1.0"),
    tags=("float16", "AlphaDropout", "random"),
    doc="""
    Dense -> AlphaDropout(0.1) -> Dense called in training mode inside
    `tf.function` with `mixed_float16` layers (the report's model is not shown; its traceback names AlphaDropout's
    float32 noise).  Fix: run the dropout layer in float32 (`dtype="float32"`),
    the per-layer override the Policy API documentation shows.  Keras 3.0's
    AlphaDropout fails in training whatever the dtype (a `greater_equal()`
    keyword error), so there the fix cannot help.
    """,
)


@alpha_dropout.broken
def _(tf, keras):
    _noise_model(tf, keras, keras.layers.AlphaDropout(0.1, dtype="mixed_float16", seed=1),
                 "mixed_float16")


@alpha_dropout.fixed
def _(tf, keras):
    _noise_model(tf, keras, keras.layers.AlphaDropout(0.1, dtype="float32", seed=1), "mixed_float16")


gaussian_noise = script_case(
    "gaussian-noise-float16-data", family=_FAMILY,
    source="Mixed Precision + Gaussian Noise throws data type error float16 / float 32",
    url="https://github.com/tensorflow/tensorflow/issues/38850",
    fidelity="adapted",
    claim=None,
    tags=("float16", "GaussianNoise", "fit"),
    doc="""
    The report's encoder: Dense(5, dtype=float16) -> GaussianNoise(0.01,
    dtype='float32') -> relu -> Dense(5) under `mixed_float16` (set there with
    the removed `experimental` API; here per layer), fitted one step on
    float16 data (20x5 random there; 4x5 fixed here).  No claim recorded: the
    report says this attempt fails during backpropagation (TF 2.0) without the
    error text.  No fixed variant: the thread gives none.
    """,
)


@gaussian_noise.broken
def _(tf, keras):
    encoder = keras.Sequential([
        keras.Input(shape=(5,)),
        keras.layers.Dense(5, dtype="float16"),
        keras.layers.GaussianNoise(0.01, dtype="float32", seed=1),
        keras.layers.Activation("relu", dtype="mixed_float16"),
        keras.layers.Dense(5, dtype="mixed_float16"),
    ])
    input_dim = keras.Input(shape=(5,), name="rating_in")
    model = keras.Model(input_dim, encoder(input_dim))
    model.compile(loss=keras.losses.mean_squared_error, optimizer="sgd")
    data = np.linspace(0, 1, 20, dtype="float16").reshape(4, 5)
    model.fit(data, data, batch_size=4, epochs=1, verbose=0)


const_in_call = layer_case(
    "float32-constant-in-mixed-layer", family=_FAMILY,
    source="mixed precision training failed on tf2.5",
    url="https://github.com/tensorflow/tensorflow/issues/49460",
    fidelity="reconstructed",
    claim=Claim("TypeError", "Input 'y' of 'Mul' Op has type float32 that does not match type float16",
                where="x * tau with tau a float32 tensor, mixed precision on", versions="TF 2.5"),
    tags=("float16", "tf.constant", "cast"),
    doc="""
    The report multiplies float16 values by a float32 `tau` built from
    `tf.constant(math.pi, tf.float32)` and `tf.cos`.  Here a
    `mixed_float16` layer scales its (autocast, float16) inputs by such a
    `tau`.  Fix: cast `tau` to the layer's compute dtype, which is what the
    error asks for and what the answers the maintainers link to do.
    """,
)


@const_in_call.broken
def _(tf, keras):
    class MomentumBlend(keras.layers.Layer):
        def call(self, inputs):
            pi = tf.constant(np.pi, tf.float32)
            tau = 1.0 - 0.5 * (tf.math.cos(pi * 0.25) + 1.0) / 2.0
            return inputs * tau + inputs * (1.0 - tau)

    return Built(MomentumBlend(dtype="mixed_float16"), x=np.ones((4, 3), "float32"))


@const_in_call.fixed
def _(tf, keras):
    class MomentumBlend(keras.layers.Layer):
        def call(self, inputs):
            pi = tf.constant(np.pi, tf.float32)
            tau = 1.0 - 0.5 * (tf.math.cos(pi * 0.25) + 1.0) / 2.0
            tau = tf.cast(tau, inputs.dtype)
            return inputs * tau + inputs * (1.0 - tau)

    return Built(MomentumBlend(dtype="mixed_float16"), x=np.ones((4, 3), "float32"))


# --------------------------------------------------------------- policies

experimental_api = layer_case(
    "mixed-precision-experimental-api", family=_FAMILY,
    source="Use non-experimental Keras mixed precision API.",
    url="https://github.com/keras-team/autokeras/pull/1675",
    fidelity="reconstructed",
    claim=Claim("AttributeError", "has no attribute 'experimental'",
                where="tf.keras.mixed_precision.experimental.global_policy()",
                versions="removed in TF 2.9 (PR of February 2022)"),
    tags=("policy", "api-removal", "cast"),
    doc="""
    A layer casts its inputs to the global policy's compute dtype read through
    `tf.keras.mixed_precision.experimental.global_policy()`, as the PR's code
    did.  Fix (the PR's): `tf.keras.mixed_precision.global_policy()`.
    """,
)


@experimental_api.broken
def _(tf, keras):
    class CastToPolicy(keras.layers.Layer):
        def call(self, inputs):
            policy = keras.mixed_precision.experimental.global_policy()
            return tf.cast(inputs, policy.compute_dtype) * 2.0

    return Built(CastToPolicy(), x=np.ones((4, 3), "float32"))


@experimental_api.fixed
def _(tf, keras):
    class CastToPolicy(keras.layers.Layer):
        def call(self, inputs):
            policy = keras.mixed_precision.global_policy()
            return tf.cast(inputs, policy.compute_dtype) * 2.0

    return Built(CastToPolicy(), x=np.ones((4, 3), "float32"))


embedding_policy = script_case(
    "embedding-ignores-mixed-bfloat16", family=_FAMILY,
    source="Embedding layer doesn't follow mixed_precision policy by default",
    url="https://github.com/tensorflow/tensorflow/issues/42631",
    fidelity="verbatim",
    claim=Claim("AssertionError", where="no exception in the report: the Embedding's output is "
                "float32 despite the mixed_bfloat16 global policy; the case asserts the Embedding "
                "computes in the policy's dtype", versions="TF 2.2.0"),
    tags=("bfloat16", "Embedding", "global-policy"),
    doc="""
    The report's code under the global `mixed_bfloat16` policy (restored
    afterwards): `Embedding(100, 100)(inputs) + Dense(100)(inputs)` on
    `Input(shape=(100,))`, then a call on one row of 100 token ids (the sum
    broadcasts (batch, 100, 100) with (batch, 100), so only a batch of 1
    computes).  The
    case asserts the embedding output follows the policy.  Fix: pass the
    policy to the Embedding's `dtype` argument, as the Policy API
    documentation shows for any layer.
    """,
)


def _emb_plus_dense(keras, **emb_kw):
    with _global_policy(keras, "mixed_bfloat16"):
        inputs = keras.Input(shape=(100,), name="digits")
        emb = keras.layers.Embedding(100, 100, **emb_kw)
        dense = keras.layers.Dense(100)
        assert emb.compute_dtype == dense.compute_dtype, (emb.compute_dtype, dense.compute_dtype)
        outputs = emb(inputs) + dense(inputs)
        model = keras.Model(inputs, outputs)
        ids = np.arange(100, dtype="float32").reshape(1, 100)
        out = model(ids)
        assert out.shape == (1, 100, 100), out.shape


@embedding_policy.broken
def _(tf, keras):
    _emb_plus_dense(keras)


@embedding_policy.fixed
def _(tf, keras):
    _emb_plus_dense(keras, dtype="mixed_bfloat16")


bfloat16_compile = script_case(
    "mixed-bfloat16-compile", family=_FAMILY,
    source='[tf.keras] Mixed precision policy "mixed_bfloat16" not supported in Keras compile',
    url="https://github.com/tensorflow/tensorflow/issues/34782",
    fidelity="adapted",
    claim=None,
    tags=("bfloat16", "compile", "global-policy", "fit"),
    doc="""
    The report's `compile_keras_model(dtype)` under the global policy (restored
    afterwards), with a two-layer Dense model instead of ResNet50 and one
    training step on a batch of 4.  No claim recorded: the report says compile
    fails under mixed_bfloat16 (TF 2.1-rc0) with the error only in a Colab.  No
    fixed variant: the thread's fix is in TensorFlow.
    """,
)


@bfloat16_compile.broken
def _(tf, keras):
    with _global_policy(keras, "mixed_bfloat16"):
        optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
        model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(4, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax", dtype="float32")])
        model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer,
                      metrics=["sparse_categorical_accuracy"])
        x = np.linspace(-1, 1, 32, dtype="float32").reshape(4, 8)
        model.fit(x, np.array([0, 1, 2, 0]), epochs=1, batch_size=4, verbose=0)


bfloat16_conv_input = layer_case(
    "bfloat16-input-float32-conv2d", family=_FAMILY,
    source="dtype mismatch when using float16",
    url="https://github.com/keras-team/keras/issues/9172",
    fidelity="reconstructed",
    claim=Claim("TypeError", "Input 'filter' of 'Conv2D' Op has type float32 that does not match "
                "type bfloat16 of argument 'input'",
                where="a bfloat16 input tensor fed to a Conv2D layer (comment of 2021-03-08)",
                versions="tf.keras, 2021"),
    tags=("bfloat16", "Conv2D", "autocast", "input-dtype"),
    doc="""
    A float32 `Conv2D(2, 3)` is called on a bfloat16 batch (2, 5, 5, 1) (the
    comment feeds a 3D image tensor in bfloat16 to Conv2D and wants to keep
    bfloat16).  The batch is a NumPy array of `ml_dtypes.bfloat16`, the
    bfloat16 type TensorFlow uses.  Fix: give the layer the `mixed_bfloat16`
    policy, so it computes in bfloat16 with float32 variables (the Policy API
    documentation).
    """,
)


def _bfloat16_images():
    import ml_dtypes

    return np.linspace(-1, 1, 50, dtype="float32").reshape(2, 5, 5, 1).astype(ml_dtypes.bfloat16)


@bfloat16_conv_input.broken
def _(tf, keras):
    return Built(keras.layers.Conv2D(2, 3, kernel_initializer="ones"), x=_bfloat16_images())


@bfloat16_conv_input.fixed
def _(tf, keras):
    return Built(keras.layers.Conv2D(2, 3, kernel_initializer="ones", dtype="mixed_bfloat16"),
                 x=_bfloat16_images())
