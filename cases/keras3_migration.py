"""Keras 2 code that breaks, or changes meaning, under Keras 3.

Most cases come from the official guide "Migrating Keras 2 code to
multi-backend Keras 3", the rest from reports of the same breaks: the
``keras.backend`` functions that Keras 3 dropped, ``tf.*`` ops on Keras
tensors, deeply nested functional inputs, ``tf.Variable`` attributes that are
no longer tracked, ``add_loss`` with a loss that is not computed in a layer,
and optimizer arguments and methods that changed (``lr``, ``get_updates``).

Reports that name ``keras.backend`` mean the ``keras`` package itself
(``from keras import backend as K``), which is Keras 3 on TF >= 2.16 even
where ``tf.keras`` is tf-keras; those variants import ``keras`` to get it.
A fix that only exists on Keras 3 (``keras.ops``) fails on Keras 2, where the
broken code works; the doc says so.  Silent changes (a learning rate ignored,
per-output losses gone) are checked and raised as ``AssertionError``.
"""

import importlib
import warnings

import numpy as np

from tfcanary.case import Claim, script_case

_FAMILY = "keras3-migration"
_GUIDE = "https://keras.io/guides/migrating_to_keras_3"
_GUIDE_TITLE = "Migrating Keras 2 code to multi-backend Keras 3"


def _x(*shape):
    return np.linspace(-1, 1, int(np.prod(shape)), dtype="float32").reshape(shape)


def _keras_package():
    """The ``keras`` package as ``import keras`` gives it (not ``tf.keras``)."""
    return importlib.import_module("keras")


# ---------------------------------------------------------------- keras.backend

int_shape = script_case(
    "keras3-backend-int-shape", family=_FAMILY,
    source="int_shape",
    url="https://github.com/Francesco601/machine-learning-stuff/issues/2",
    fidelity="adapted",
    claim=Claim("AttributeError", "has no attribute 'int_shape'",
                where="conv_shape = K.int_shape(cx) in a VAE encoder",
                versions="Keras 3 (May 2025)"),
    tags=("keras.backend", "int_shape", "functional-api"),
    doc="""
    The report's VAE encoder reads a Conv2D output's static shape with
    `K.int_shape(cx)`, `K` being `keras.backend`; trimmed to the encoder on
    (8, 8, 1) inputs and a Dense layer sized from that shape.  Fix (the
    maintainer's reply): `tf.keras.backend.int_shape(cx)`.
    """,
)


def _encoder(keras, shape_of):
    inp = keras.layers.Input(shape=(8, 8, 1))
    cx = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(inp)
    conv_shape = shape_of(cx)
    x = keras.layers.Flatten()(cx)
    x = keras.layers.Dense(conv_shape[1] * conv_shape[2] * conv_shape[3])(x)
    keras.Model(inp, x)


@int_shape.broken
def _(tf, keras):
    K = _keras_package().backend
    _encoder(keras, K.int_shape)


@int_shape.fixed
def _(tf, keras):
    _encoder(keras, tf.keras.backend.int_shape)


get_session = script_case(
    "keras3-backend-get-session", family=_FAMILY,
    source="module 'keras.backend' has no attribute 'get_session'",
    url="https://github.com/amir-abdi/keras_to_tensorflow/issues/117",
    fidelity="adapted",
    claim=Claim("AttributeError", "has no attribute 'get_session'",
                where="sess = K.get_session() before freezing the graph",
                versions="TF 2 (February 2021)"),
    tags=("keras.backend", "get_session", "tf1-migration"),
    doc="""
    The report's converter asks `keras.backend` for the TF 1 session to
    freeze a trained model's graph; trimmed to a small Dense model and the
    `K.get_session()` call.  TF 2 has no session to return; the thread gives
    no TF 2 fix (other threads pin TF 1.15), so there is no fixed variant.
    """,
)


@get_session.broken
def _(tf, keras):
    K = _keras_package().backend
    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(2)])
    model(_x(2, 3))
    sess = K.get_session()
    assert sess is not None


# ---------------------------------------------------------------- functional models

tf_squeeze = script_case(
    "keras3-tf-squeeze-keras-tensor", family=_FAMILY,
    source=_GUIDE_TITLE + ": Calling TF ops with a KerasTensor",
    url=_GUIDE,
    fidelity="verbatim",
    claim=Claim("ValueError", "A KerasTensor cannot be used as input to a TensorFlow function",
                where="tf.squeeze(keras.layers.Input([2, 2, 1]))", versions="Keras 3"),
    tags=("keras-tensor", "tf-ops", "keras.ops", "functional-api"),
    doc="""
    The guide's snippet: `tf.squeeze` on a `keras.layers.Input([2, 2, 1])`.
    Fix (the guide's): `keras.ops.squeeze`, which only Keras 3 has; on Keras
    2, where `tf.squeeze` works on Keras tensors, the fixed variant fails.
    """,
)


@tf_squeeze.broken
def _(tf, keras):
    input = keras.layers.Input([2, 2, 1])
    tf.squeeze(input)


@tf_squeeze.fixed
def _(tf, keras):
    input = keras.layers.Input([2, 2, 1])
    keras.ops.squeeze(input)


nested_inputs = script_case(
    "keras3-nested-functional-inputs", family=_FAMILY,
    source=_GUIDE_TITLE + ": Using deeply nested inputs in Functional Models",
    url=_GUIDE,
    fidelity="verbatim",
    claim=Claim("ValueError", "all values in the dict must be KerasTensors",
                where="keras.Model(inputs, outputs) with a dict of dicts of Inputs",
                versions="Keras 3"),
    tags=("functional-api", "nested-inputs", "dict-inputs"),
    doc="""
    The guide's model whose inputs nest a dict inside a dict.  Fix (the
    guide's): one level of nesting, a flat dict of Inputs.
    """,
)


@nested_inputs.broken
def _(tf, keras):
    inputs = {
        "foo": keras.Input(shape=(1,), name="foo"),
        "bar": {
            "baz": keras.Input(shape=(1,), name="bar"),
        },
    }
    outputs = inputs["foo"] + inputs["bar"]["baz"]
    keras.Model(inputs, outputs)


@nested_inputs.fixed
def _(tf, keras):
    inputs = {
        "foo": keras.Input(shape=(1,), name="foo"),
        "bar": keras.Input(shape=(1,), name="bar"),
    }
    outputs = inputs["foo"] + inputs["bar"]
    keras.Model(inputs, outputs)


none_in_call = script_case(
    "keras3-none-in-nested-call-args", family=_FAMILY,
    source=_GUIDE_TITLE + ": `None` entries in nested `call()` arguments",
    url=_GUIDE,
    fidelity="verbatim",
    claim=Claim("ValueError", "", where="layer(inputs) with inputs['bar']['baz'] = None",
                versions="Keras 3"),
    tags=("call", "nested-inputs", "optional-args"),
    doc="""
    The guide's CustomLayer receives `{"foo": Input, "bar": {"baz": None}}`.
    The guide shows no message.  Fix (the guide's solution 2): make the
    optional tensor a separate keyword argument of `call`.
    """,
)


@none_in_call.broken
def _(tf, keras):
    class CustomLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()

        def call(self, inputs):
            foo = inputs["foo"]
            baz = inputs["bar"]["baz"]
            if baz is not None:
                return foo + baz
            return foo

    layer = CustomLayer()
    inputs = {
        "foo": keras.Input(shape=(1,), name="foo"),
        "bar": {
            "baz": None,
        },
    }
    layer(inputs)


@none_in_call.fixed
def _(tf, keras):
    class CustomLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()

        def call(self, foo, baz=None):
            if baz is not None:
                return foo + baz
            return foo

    layer = CustomLayer()
    foo = keras.Input(shape=(1,), name="foo")
    baz = None
    layer(foo, baz=baz)


multi_output = script_case(
    "keras3-multi-output-evaluate", family=_FAMILY,
    source=_GUIDE_TITLE + ": Multi-output model evaluate()",
    url=_GUIDE,
    fidelity="adapted",
    claim=Claim("AssertionError", "no 'output_1_loss'",
                where="evaluate() of a two-output model no longer returns output_1_loss and "
                      "output_2_loss", versions="Keras 3"),
    tags=("evaluate", "multi-output", "metrics"),
    doc="""
    The guide's two-output functional model, compiled with one loss and
    evaluated on 10 samples (linspace data instead of `np.random`, and one
    target per output instead of one array for both, which the newest Keras
    rejects).  The case raises `AssertionError` when `evaluate(...,
    return_dict=True)` has no `output_1_loss`/`output_2_loss`, the entries
    Keras 2 code reads.  Fix (the guide's): a metric per output in `compile`,
    read as `output_<i>_categorical_crossentropy`; Keras 2 applies both list
    entries to every output and rejects the duplicate names.
    """,
)


def _evaluate_two_outputs(keras, expected, **compile_kwargs):
    layers = keras.layers
    inputs = layers.Input(shape=(10,))
    x1 = layers.Dense(5, activation="relu", kernel_initializer="ones")(inputs)
    x2 = layers.Dense(5, activation="relu", kernel_initializer="ones")(x1)
    output_1 = layers.Dense(5, activation="softmax", name="output_1")(x1)
    output_2 = layers.Dense(5, activation="softmax", name="output_2")(x2)
    model = keras.Model(inputs=inputs, outputs=[output_1, output_2])
    model.compile(optimizer="adam", loss="categorical_crossentropy", **compile_kwargs)
    x_test = np.linspace(0, 1, 100, dtype="float32").reshape(10, 10)
    y_test = np.linspace(0, 1, 50, dtype="float32").reshape(10, 5)
    results = model.evaluate(x_test, [y_test, y_test], verbose=0, return_dict=True)
    for key in expected:
        if key not in results:
            raise AssertionError(f"evaluate() returned {sorted(results)}: no {key!r}")


@multi_output.broken
def _(tf, keras):
    _evaluate_two_outputs(keras, ["output_1_loss", "output_2_loss"])


@multi_output.fixed
def _(tf, keras):
    _evaluate_two_outputs(
        keras, ["output_1_categorical_crossentropy", "output_2_categorical_crossentropy"],
        metrics=["categorical_crossentropy", "categorical_crossentropy"])


# ---------------------------------------------------------------- models and layers

jit_default = script_case(
    "keras3-jit-compile-default", family=_FAMILY,
    source=_GUIDE_TITLE + ": `jit_compile` is set to `True` by default on GPU",
    url=_GUIDE,
    fidelity="verbatim",
    claim=Claim("InvalidArgumentError", "Detected unsupported operations when trying to compile",
                where="predict() of a subclassed model calling tf.strings ops (the guide: on GPU)",
                versions="Keras 3"),
    tags=("xla", "jit_compile", "tf.strings", "subclassed-model"),
    doc="""
    The guide's MyModel runs `tf.strings.as_string` and `tf.strings.to_number`,
    which XLA cannot compile, in `predict` after `compile(optimizer="sgd",
    loss="mse")`.  The guide says the default is JIT on GPU; these machines
    have none.  Fix (the guide's): `model.jit_compile = False`.
    """,
)


def _strings_model(tf, keras):
    class MyModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

        def call(self, inputs):
            string_input = tf.strings.as_string(inputs)
            return tf.strings.to_number(string_input)

    return MyModel(), np.array([[1, 2, 3], [4, 5, 6]])


@jit_default.broken
def _(tf, keras):
    subclass_model, x_train = _strings_model(tf, keras)
    subclass_model.compile(optimizer="sgd", loss="mse")
    subclass_model.predict(x_train, verbose=0)


@jit_default.fixed
def _(tf, keras):
    subclass_model, x_train = _strings_model(tf, keras)
    subclass_model.jit_compile = False
    subclass_model.predict(x_train, verbose=0)


untracked_variable = script_case(
    "keras3-tf-variable-untracked", family=_FAMILY,
    source=_GUIDE_TITLE + ": TensorFlow variables tracking",
    url=_GUIDE,
    fidelity="verbatim",
    claim=Claim("UserWarning", "The model does not have any trainable weights",
                where="a layer holding tf.Variable attributes created in build()",
                versions="Keras 3"),
    tags=("tf.Variable", "tracking", "build", "trainable-weights"),
    doc="""
    The guide's MyCustomLayer creates its kernel and bias as `tf.Variable`
    attributes in `build`, which Keras 3 does not track.  The case runs the
    guide's compile and predict plus one `fit` step, raises the warning as
    an error, and checks that the model has its two trainable variables.
    Fix (the guide's): `self.add_weight`.
    """,
)


def _fit_custom_layer(keras, layer):
    data = np.linspace(0, 1, 9, dtype="float32").reshape(3, 3)
    model = keras.models.Sequential([layer])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not have any trainable weights",
                                category=UserWarning)
        model.compile(optimizer="adam", loss="mse")
        model.predict(data, verbose=0)
        model.fit(data, np.zeros((3, 3), "float32"), epochs=1, verbose=0)
    n = len(model.trainable_variables)
    if n != 2:
        raise AssertionError(f"the model has {n} trainable variables; expected 2")


@untracked_variable.broken
def _(tf, keras):
    class MyCustomLayer(keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            input_dim = input_shape[-1]
            self.w = tf.Variable(initial_value=tf.zeros([input_dim, self.units]))
            self.b = tf.Variable(initial_value=tf.zeros([self.units, ]))

        def call(self, inputs):
            return tf.matmul(inputs, self.w) + self.b

    _fit_custom_layer(keras, MyCustomLayer(3))


@untracked_variable.fixed
def _(tf, keras):
    class MyCustomLayer(keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            input_dim = input_shape[-1]
            self.w = self.add_weight(shape=[input_dim, self.units], initializer="zeros")
            self.b = self.add_weight(shape=[self.units, ], initializer="zeros")

        def call(self, inputs):
            return tf.matmul(inputs, self.w) + self.b

    _fit_custom_layer(keras, MyCustomLayer(3))


model_add_loss = script_case(
    "model-add-loss-eager-tensor", family=_FAMILY,
    source="Training balloon.py ValueError: Expected a symbolic Tensors or a callable for the "
           "loss value. Please wrap your loss computation in a zero argument `lambda`.",
    url="https://github.com/matterport/Mask_RCNN/issues/2906",
    fidelity="adapted",
    claim=Claim("ValueError", "Expected a symbolic Tensors or a callable for the loss value",
                where="self.keras_model.add_loss(tf.add_n(reg_losses)) in compile()",
                versions="TF 2.10.0, Keras 2.10.0"),
    tags=("add_loss", "regularization", "Model"),
    doc="""
    Mask R-CNN adds L2 weight decay to the built model with
    `keras_model.add_loss(tf.add_n(reg_losses))`, an eager tensor computed
    once; trimmed to a two-layer model and the same expression.  Fix (the
    thread's): `add_loss(lambda: tf.add_n(reg_losses))`, recomputed each
    step.  Keras 3 keeps `add_loss` only inside `call`, so both variants
    record what it does with a model-level loss.
    """,
)


def _weight_decay_model(tf, keras):
    inp = keras.Input(shape=(3,))
    hidden = keras.layers.Dense(4, activation="relu", kernel_initializer="ones")(inp)
    model = keras.Model(inp, keras.layers.Dense(1, kernel_initializer="ones")(hidden))

    def reg_losses():
        return [keras.regularizers.l2(0.0001)(w) / tf.cast(tf.size(w), tf.float32)
                for w in model.trainable_weights
                if 'gamma' not in w.name and 'beta' not in w.name]

    return model, reg_losses


def _fit_weight_decay(model):
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_x(4, 3), np.zeros((4, 1), "float32"), epochs=1, verbose=0)


@model_add_loss.broken
def _(tf, keras):
    model, reg_losses = _weight_decay_model(tf, keras)
    model.add_loss(tf.add_n(reg_losses()))
    _fit_weight_decay(model)


@model_add_loss.fixed
def _(tf, keras):
    model, reg_losses = _weight_decay_model(tf, keras)
    model.add_loss(lambda: tf.add_n(reg_losses()))
    _fit_weight_decay(model)


# ---------------------------------------------------------------- optimizers

lr_argument = script_case(
    "optimizer-lr-argument", family=_FAMILY,
    source="Keyword learning_rate vs lr not returning same loss function in "
           "keras.optimizers.Adam",
    url="https://github.com/keras-team/keras/issues/19025",
    fidelity="adapted",
    claim=Claim("AssertionError", "learning rate is 0.001",
                where="Adam(lr=1e-5) trains differently from Adam(learning_rate=1e-5): the "
                      "lr keyword is not applied",
                versions="TensorFlow and Keras installed January 2024"),
    tags=("optimizer", "learning_rate", "lr", "deprecation"),
    doc="""
    The report builds `keras.optimizers.Adam(lr=1e-5)` and sees the losses of
    the default learning rate.  The case reads the optimizer's learning rate
    back and raises `AssertionError` when it is not 1e-5 (Keras 3 rejects
    `lr` outright, as the maintainers answer).  Fix: `learning_rate=1e-5`.
    """,
)


def _adam_learning_rate(tf, keras, **kwargs):
    optimizer = keras.optimizers.Adam(**kwargs)
    lr = float(np.asarray(optimizer.learning_rate))
    if not np.isclose(lr, 1e-5):
        raise AssertionError(f"learning rate is {lr:g}; expected 1e-05")


@lr_argument.broken
def _(tf, keras):
    _adam_learning_rate(tf, keras, lr=1e-5)


@lr_argument.fixed
def _(tf, keras):
    _adam_learning_rate(tf, keras, learning_rate=1e-5)


get_updates = script_case(
    "optimizer-get-updates-eager", family=_FAMILY,
    source="tf2.0 - tf.keras.optimizers.Optimizer.get_updates() does not work",
    url="https://github.com/tensorflow/tensorflow/issues/25472",
    fidelity="reconstructed",
    claim=Claim("RuntimeError", "tf.gradients is not supported when eager execution is enabled",
                where="optimizer.get_updates(loss, params) on a Keras optimizer in TF 2",
                versions="TF 2.0.0-dev20190203"),
    tags=("optimizer", "get_updates", "GradientTape", "tf1-migration"),
    doc="""
    Keras 1/2-era training code asks the optimizer for its update ops with
    `get_updates(loss=..., params=...)`; written from the report's
    description with a one-layer model and an MSE loss.  Fix (what TF 2
    offers instead): compute the gradients with `tf.GradientTape` and call
    `apply_gradients`.
    """,
)


def _tiny_regression(tf, keras):
    model = keras.Sequential([keras.layers.Input((3,)),
                              keras.layers.Dense(1, kernel_initializer="ones")])
    x, y = _x(4, 3), np.zeros((4, 1), "float32")
    return model, x, y


@get_updates.broken
def _(tf, keras):
    model, x, y = _tiny_regression(tf, keras)
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    loss = tf.reduce_mean(tf.square(model(x) - y))
    optimizer.get_updates(loss=loss, params=model.trainable_weights)


@get_updates.fixed
def _(tf, keras):
    model, x, y = _tiny_regression(tf, keras)
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
