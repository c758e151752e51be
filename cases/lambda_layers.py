"""Lambda layers: output-shape inference, closures and (de)serialization.

Keras 3 infers a Lambda's output shape by tracing the function on symbolic
inputs and asks for ``output_shape=`` when it cannot; Keras 2 ran the function
on the KerasTensor itself.  A Lambda's Python function is serialized as
marshalled bytecode: globals and closures it uses are not saved with it, and
since TF 2.13 / Keras 3 loading a Python ``lambda`` is refused in safe mode.
Fixed variants follow the fix the report, the maintainers or the error message
give.
"""

import contextlib
import os
import shutil
import tempfile

import numpy as np

from tfcanary.case import Built, Claim, layer_case, script_case

_FAMILY = "lambda-layers"


@contextlib.contextmanager
def _scratch_dir():
    """Write the case's files in a fresh temporary directory, removed after.

    The worker runs every item in the probe's own working directory, so a
    case that saves files changes into a directory of its own and back.
    """
    previous = os.getcwd()
    path = tempfile.mkdtemp(prefix="tfcanary-case-")
    os.chdir(path)
    try:
        yield path
    finally:
        os.chdir(previous)
        shutil.rmtree(path, ignore_errors=True)


_SAVED_ADDRESS = ("Keras 3.15's reload error prints the shared dtype policy's shared_object_id, "
                  "an object address, so its fingerprint changes from run to run")


def _ops(keras):
    """keras.ops on Keras 3; the Keras 2 backend module otherwise."""
    return getattr(keras, "ops", None) or keras.backend


# --------------------------------------------------------------- shape inference

dynamic_matmul = script_case(
    "lambda-dynamic-output-matmul", family=_FAMILY,
    source="Keras 3's lambda layer cannot accept dynamic output while tf.keras can",
    url="https://github.com/keras-team/keras/issues/18797",
    fidelity="adapted",
    claim=Claim("ValueError", "could not automatically infer the shape of the Lambda's output",
                where="calling the Lambda on keras.Input((None, 64)) tensors",
                versions="keras_core (Keras 3 preview); tf.keras works"),
    tags=("keras3-migration", "output_shape", "dynamic-shape"),
    doc="""
    A Lambda computes q @ k^T for two `keras.Input((None, 8))` tensors (the
    report uses 64 features and `keras_core.ops.matmul`; here the report's
    `tf.linalg.matmul` half, with 8 features, runs on every version).  Fix:
    give `output_shape=(None, None)`, as the error message asks.
    """,
)


def _qk_model(tf, keras, **lambda_kw):
    q = keras.Input((None, 8))
    k = keras.Input((None, 8))
    qk = keras.layers.Lambda(lambda x: tf.linalg.matmul(x[0], x[1], transpose_b=True),
                             **lambda_kw)([q, k])
    model = keras.Model(inputs=(q, k), outputs=qk)
    qn = np.linspace(-1, 1, 24, dtype="float32").reshape(1, 3, 8)
    out = np.asarray(model([qn, qn]))
    assert out.shape == (1, 3, 3), out.shape


@dynamic_matmul.broken
def _(tf, keras):
    _qk_model(tf, keras)


@dynamic_matmul.fixed
def _(tf, keras):
    _qk_model(tf, keras, output_shape=(None, None))


backend_expand_dims = script_case(
    "lambda-keras-backend-expand-dims", family=_FAMILY,
    source="Lambda output_shape",
    url="https://github.com/keras-team/keras/issues/21089",
    fidelity="adapted",
    claim=Claim("ValueError", "could not automatically infer the shape of the Lambda's output",
                where="building the model", versions="TF 2.19, Keras 3.9 (code written for 2.15)"),
    tags=("keras3-migration", "keras.backend", "output_shape"),
    doc="""
    `Lambda(lambda x: K.expand_dims(x, axis=-1))` with `from keras import
    backend as K`, in a model built from the top-level `keras` package as the
    report imports it (`tf.keras` on TF 2.16+ keeps the legacy backend
    functions; `keras.backend` of Keras 3 has no `expand_dims`).  Fix (the
    reporter's): `from keras import ops as K`; Keras 2 has no `keras.ops`, so
    there the fixed variant keeps `keras.backend`.
    """,
)


def _expand_dims_model(K):
    import keras as keras_pkg

    inp = keras_pkg.Input(shape=(3,))
    out = keras_pkg.layers.Lambda(lambda x: K.expand_dims(x, axis=-1))(inp)
    model = keras_pkg.Model(inp, out)
    y = np.asarray(model(np.arange(6, dtype="float32").reshape(2, 3)))
    assert y.shape == (2, 3, 1), y.shape


@backend_expand_dims.broken
def _(tf, keras):
    from keras import backend as K
    _expand_dims_model(K)


@backend_expand_dims.fixed
def _(tf, keras):
    import keras as keras_pkg
    _expand_dims_model(_ops(keras_pkg))


wrong_output_shape = script_case(
    "lambda-output-shape-disagrees", family=_FAMILY,
    source="Lambda.compute_output_shape generates wrong shape",
    url="https://github.com/keras-team/keras/issues/19324",
    fidelity="verbatim",
    claim=Claim("AssertionError", "compute_output_shape (3, 6)",
                where="no exception in the report: compute_output_shape returns (3, 6) while the "
                "call returns (3, 2); the case asserts they agree", versions="Keras 3 (March 2024)"),
    tags=("output_shape", "compute_output_shape"),
    doc="""
    `Lambda(lambda x: x**2, output_shape=[6])` on a (3, 2) array: the call
    returns (3, 2) but `compute_output_shape` trusts the declared (3, 6).  The
    case asserts that both agree.  Fix (the maintainer's): drop the wrong
    `output_shape` argument.
    """,
)


def _shapes_agree(keras, **lambda_kw):
    L = keras.layers.Lambda(lambda x: x ** 2, **lambda_kw)
    x = np.zeros((3, 2), "float32")
    called = tuple(np.asarray(L(x)).shape)
    declared = tuple(L.compute_output_shape(x.shape))
    assert called == declared, f"call returned {called}, compute_output_shape {declared}"


@wrong_output_shape.broken
def _(tf, keras):
    _shapes_agree(keras, output_shape=[6])


@wrong_output_shape.fixed
def _(tf, keras):
    _shapes_agree(keras)


# --------------------------------------------------------------- state and closures

lambda_variable = layer_case(
    "lambda-creates-variables", family=_FAMILY,
    source="AttributeError: module 'tensorflow_core.keras.backend' has no attribute 'track_variable'",
    url="https://github.com/keras-team/keras/issues/13529",
    fidelity="adapted",
    claim=Claim("AttributeError", "has no attribute 'track_variable'",
                where="saving and reloading (.h5) a model whose Lambda creates tf.Variables",
                versions="TF 2.0.0"),
    tags=("state", "tf.Variable", "add_weight"),
    doc="""
    The Lambda's function creates `tf.Variable` weights `w` and `b` on every
    call (the report's `lambda_bug`).  Fix (the one TF's Lambda docs and its
    error message give): a subclassed layer creating the weights with
    `add_weight` in `build`.  Mode `saved` is skipped: on Keras 3.15 its
    error message carries an object address.
    """,
)


@lambda_variable.broken
def _(tf, keras):
    def lambda_bug(x):
        ws = lambda: tf.ones(shape=(1, 1), dtype=tf.float32)  # noqa: E731
        w = tf.Variable(initial_value=ws, dtype=tf.float32, name="weights")
        b = tf.Variable(0., name="bias")
        return w * x + b

    return Built(keras.layers.Lambda(lambda_bug, name="lambda_bug"),
                 x=np.arange(4, dtype="float32").reshape(4, 1),
                 skip={"saved": _SAVED_ADDRESS})


@lambda_variable.fixed
def _(tf, keras):
    class Affine(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="weights", shape=(1, 1), initializer="ones")
            self.b = self.add_weight(name="bias", shape=(), initializer="zeros")

        def call(self, x):
            return self.w * x + self.b

    return Built(Affine(name="affine"), x=np.arange(4, dtype="float32").reshape(4, 1))


slice_loop = script_case(
    "lambda-late-binding-slice", family=_FAMILY,
    source="Wrong Model.save() for models with slicing Lambda-layers",
    url="https://github.com/keras-team/keras/issues/13697",
    fidelity="verbatim",
    claim=Claim("AssertionError", "reloaded model returns",
                where="no exception in the report: the .h5 copy returns other outputs than the "
                "original; the case asserts both are right", versions="TF 1.15 / 2.0, Keras 2.2.4"),
    tags=("closure", "h5", "serialization"),
    doc="""
    `[Lambda(lambda x: x[:, j])(input_x) for j in range(2)]`: every lambda
    reads the comprehension's `j` when it runs, not when it was made.  The case
    checks the model and its `.h5` copy both return x[:, 0] and x[:, 1].  Fix
    (the report's): bind the index with `Lambda(lambda x, i: x[:, i],
    arguments={'i': j})`.
    """,
)


def _slices_roundtrip(keras, input_x, sliced_x):
    model = keras.Model(inputs=input_x, outputs=sliced_x)
    model.save("m.h5")
    kw = {"safe_mode": False} if "safe_mode" in _params(keras.models.load_model) else {}
    m_copy = keras.models.load_model("m.h5", **kw)
    data = np.array([[[1.0], [2.0]]], "float32")
    for name, m in (("original", model), ("reloaded", m_copy)):
        got = [float(np.asarray(o).ravel()[0]) for o in m.predict(data, verbose=0)]
        assert got == [1.0, 2.0], f"{name} model returns {got}, expected [1.0, 2.0]"


def _params(fn):
    import inspect
    return inspect.signature(fn).parameters


@slice_loop.broken
def _(tf, keras):
    with _scratch_dir():
        sz = 2
        input_x = keras.Input(shape=(sz, 1))
        sliced_x = [keras.layers.Lambda(lambda x: x[:, j])(input_x) for j in range(sz)]
        _slices_roundtrip(keras, input_x, sliced_x)


@slice_loop.fixed
def _(tf, keras):
    with _scratch_dir():
        sz = 2
        input_x = keras.Input(shape=(sz, 1))
        sliced_x = [keras.layers.Lambda(lambda x, i: x[:, i], arguments={"i": j})(input_x)
                    for j in range(sz)]
        _slices_roundtrip(keras, input_x, sliced_x)


# --------------------------------------------------------------- saving and loading

from_json_safe_mode = script_case(
    "lambda-model-from-json-safe-mode", family=_FAMILY,
    source="tf.keras.models.model_from_json() missing a safe_mode parameter",
    url="https://github.com/keras-team/tf-keras/issues/44",
    fidelity="verbatim",
    claim=Claim("ValueError", "deserialization of a Lambda layer with a Python `lambda`",
                where="model_from_json(model.to_json())", versions="TF/Keras 2.13 (works in 2.12)"),
    tags=("safe_mode", "serialization", "json"),
    doc="""
    `Lambda(lambda x: x*2)` then `Dense(1)`, round-tripped through
    `model.to_json()` / `model_from_json`, which has no `safe_mode` argument.
    Fix (what the error message says): save the model and load it with
    `load_model(..., safe_mode=False)`.
    """,
)


def _lambda_dense_model(keras):
    inputs = keras.Input(shape=(1,))
    x = keras.layers.Lambda(lambda x: x * 2)(inputs)
    out = keras.layers.Dense(1, kernel_initializer="ones")(x)
    return keras.Model(inputs=inputs, outputs=out)


@from_json_safe_mode.broken
def _(tf, keras):
    model = _lambda_dense_model(keras)
    restored = keras.models.model_from_json(model.to_json())
    assert len(restored.layers) == len(model.layers)


@from_json_safe_mode.fixed
def _(tf, keras):
    with _scratch_dir():
        model = _lambda_dense_model(keras)
        model.save("lambda_model.keras")
        restored = keras.models.load_model("lambda_model.keras", safe_mode=False)
        out = np.asarray(restored(np.ones((2, 1), "float32")))
        assert np.allclose(out, 2.0), out


closure_h5 = script_case(
    "lambda-closure-h5-load", family=_FAMILY,
    source='NameError: Exception encountered when calling layer "lambda_1" (type Lambda).',
    url="https://github.com/tensorflow/tensorflow/issues/54198",
    fidelity="adapted",
    claim=Claim("NameError", "Exception encountered when calling layer",
                where="load_model of an .h5 model whose Lambda closes over a helper and its argument",
                versions="TF 2.x (comment of 2023-05-30; issue tagged TF 1.15)"),
    tags=("closure", "h5", "custom_objects"),
    doc="""
    `Lambda(lambda x: dummy_padding(x, padding_size))` with `dummy_padding` and
    `padding_size` from the enclosing builder function, saved to `.h5` and
    loaded back (the report saves a 28x28 input with padding 5; here 4x4 and
    padding 1, Dense(2) with constant weights).  Fix: pass the function itself
    and its argument through `arguments=`, and the function to `load_model` via
    `custom_objects` (the workaround given for the same NameError in
    keras-team/keras#9431).  Keras 3.0's legacy `.h5` loader does not look the
    function up in `custom_objects` ("Could not locate function"); later
    Keras 3 releases do.
    """,
)


def _symmetric_pad(x, padding_size):
    import tensorflow as tf
    p = padding_size
    return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="SYMMETRIC")


def _padding_model(keras, lambda_layer):
    model = keras.Sequential([keras.Input(shape=(4, 4, 1)), lambda_layer, keras.layers.Flatten(),
                              keras.layers.Dense(2, kernel_initializer="ones")])
    return model


def _h5_roundtrip(keras, model, **load_kw):
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    before = np.asarray(model(x))
    model.save("model_.h5")
    if "safe_mode" in _params(keras.models.load_model):
        load_kw["safe_mode"] = False
    loaded = keras.models.load_model("model_.h5", **load_kw)
    after = np.asarray(loaded(x))
    assert np.allclose(before, after), (before, after)


@closure_h5.broken
def _(tf, keras):
    with _scratch_dir():
        def dummy_nn(padding_size=1):
            def dummy_padding(x, padding_size):
                return tf.pad(x, [[0, 0], [padding_size, padding_size],
                                  [padding_size, padding_size], [0, 0]], mode="SYMMETRIC")

            return _padding_model(keras, keras.layers.Lambda(lambda x: dummy_padding(x, padding_size)))

        _h5_roundtrip(keras, dummy_nn())


@closure_h5.fixed
def _(tf, keras):
    with _scratch_dir():
        layer = keras.layers.Lambda(_symmetric_pad, arguments={"padding_size": 1})
        _h5_roundtrip(keras, _padding_model(keras, layer),
                      custom_objects={"_symmetric_pad": _symmetric_pad})


global_in_lambda = script_case(
    "lambda-global-name-on-load", family=_FAMILY,
    source="NameError: name some_global is not defined when using a lambda layer",
    url="https://github.com/keras-team/keras/issues/15759",
    fidelity="reconstructed",
    claim=Claim("NameError", "is not defined", where="load_model of the saved model",
                versions="TF 2.6.0"),
    tags=("globals", "h5", "custom_objects"),
    doc="""
    A Lambda multiplies by a name that is not in the Lambda's module (the
    report's `batch_size`; here `size_of_something`, set by the builder in a
    dict the lambda reads as a global).  The model is saved to `.h5` and loaded
    in the same process.  Fix (the workaround of keras-team/keras#9431 that the
    report points to): give the name in `custom_objects`.  Keras 3's legacy
    `.h5` loader does not put `custom_objects` into the lambda's globals, so
    there the fix does not help.
    """,
)


def _global_lambda_model(keras):
    # A lambda whose globals are a fresh dict: its free name resolves only there
    # while the model is built, exactly like a notebook global at load time.
    code = compile("lambda x: x * size_of_something", "<notebook>", "eval")
    fn = eval(code, {"size_of_something": 10.0})  # noqa: S307 - fixed literal
    inp = keras.Input(shape=(1,))
    return keras.Model(inp, keras.layers.Lambda(fn)(inp))


def _reload(keras, **kw):
    model = _global_lambda_model(keras)
    model.save("model2.h5")
    if "safe_mode" in _params(keras.models.load_model):
        kw["safe_mode"] = False
    loaded = keras.models.load_model("model2.h5", **kw)
    out = np.asarray(loaded(np.ones((2, 1), "float32")))
    assert np.allclose(out, 10.0), out


@global_in_lambda.broken
def _(tf, keras):
    with _scratch_dir():
        _reload(keras)


@global_in_lambda.fixed
def _(tf, keras):
    with _scratch_dir():
        _reload(keras, custom_objects={"size_of_something": 10.0})


multi_output = script_case(
    "lambda-multiple-outputs-call", family=_FAMILY,
    source="keras `Model.__call__` fails to propagate `Lambda`s with multiple outputs correctly",
    url="https://github.com/tensorflow/tensorflow/issues/27639",
    fidelity="reconstructed",
    claim=None,
    tags=("multi-output", "functional-api"),
    doc="""
    One Lambda returns the tuple `(x + y, x * y)` (the report's
    `add_and_mul`); two Dense-free heads consume its two outputs and the model
    is called on real tensors.  No claim recorded: the report says intermediate
    outputs lose their structure when the model is called (TF 1.13.1) without
    the error text.  Fix (the report's working `add_mul_model`): one
    Lambda per output.
    """,
)


def _two_head_model(keras, split):
    x = keras.Input(shape=(1,))
    y = keras.Input(shape=(1,))
    s, p = split([x, y])
    out = keras.layers.Concatenate()([s, p])
    model = keras.Model(inputs=[x, y], outputs=out)
    xs = np.array([[1.0], [2.0]], "float32")
    ys = np.array([[3.0], [4.0]], "float32")
    got = np.asarray(model([xs, ys]))
    assert np.allclose(got, [[4.0, 3.0], [6.0, 8.0]]), got


@multi_output.broken
def _(tf, keras):
    def add_and_mul(args):
        x, y = args
        return x + y, x * y

    _two_head_model(keras, keras.layers.Lambda(add_and_mul))


@multi_output.fixed
def _(tf, keras):
    def split(xy):
        s = keras.layers.Lambda(lambda a: a[0] + a[1])(xy)
        p = keras.layers.Lambda(lambda a: a[0] * a[1])(xy)
        return s, p

    _two_head_model(keras, split)
