"""``tf.function``: tracing, retracing, variables and Python side effects.

A ``tf.function`` runs its Python body only while it traces.  Reports about it
fall into three groups: variables created inside the traced body ("tried to
create variables on non-first call", "only supports singleton tf.Variables
created on the first call"), Python state that changes only at trace time,
and functions that retrace on every call (Python scalars or new shapes as
arguments).  Keras 3 adds a fourth: it no longer runs AutoGraph on a layer's
``call``, and the guide's repair is ``@tf.function`` on the method.

Retracing and side effects raise nothing.  Where a report describes such
silent behaviour, the broken variant checks what the user expected and raises
``AssertionError`` with what it observed; the claim records that
``AssertionError``, and ``where`` quotes the report.
"""

import logging

import numpy as np

from tfcanary.case import Built, Claim, layer_case, script_case

_FAMILY = "tf-function"


class _RetracingLog(logging.Handler):
    """Collects TensorFlow's "triggered tf.function retracing" warnings.

    The probe sets TensorFlow's logger to ERROR; the warning is logged at
    WARNING, so the level is lowered while the block runs and put back after.
    """

    def __init__(self, tf):
        super().__init__(logging.WARNING)
        self.logger = tf.get_logger()
        self.lines = []

    def emit(self, record):
        text = record.getMessage()
        if "triggered tf.function retracing" in text:
            self.lines.append(text.split(". Tracing is expensive")[0] + ".")

    def __enter__(self):
        self.saved_level = self.logger.level
        self.logger.setLevel(logging.WARNING)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self.saved_level)


def _check_traces(fn, calls, most, log):
    # The warning's counts depend on what else ran in the process, so only its
    # presence is reported.  Each variant defines its own function: TensorFlow
    # keys the warning by the function's code object and warns twice at most.
    traces = fn.experimental_get_tracing_count()
    if traces > most:
        warned = (" TensorFlow logged that the calls triggered tf.function retracing."
                  if log.lines else "")
        raise AssertionError(
            f"{traces} traces for {calls} calls; expected at most {most}.{warned}")


# ---------------------------------------------------------------- variables

variable_in_body = script_case(
    "tf-function-variable-in-body", family=_FAMILY,
    source="Can't declare tf.Variable in @tf.function decorated function",
    url="https://github.com/tensorflow/tensorflow/issues/26812",
    fidelity="verbatim",
    claim=Claim("ValueError", "tried to create variables on non-first call",
                where="print(f()) on the first and only call",
                versions="TF 2.0.0-dev20190317"),
    tags=("tf.Variable", "variable-creation"),
    doc="""
    The report's function: a `tf.Variable(12.)` is created in the body of a
    `@tf.function` and added to a matmul.  Fix (the maintainers point to the
    "functions that create state" section of the tf.function RFC): create the
    variable once, outside the function, and capture it.
    """,
)


@variable_in_body.broken
def _(tf, keras):
    @tf.function
    def f():
        a = tf.constant([[10, 10], [11., 1.]])
        x = tf.constant([[1., 0.], [0., 1.]])
        b = tf.Variable(12.)
        y = tf.matmul(a, x) + b
        return y

    print(f())


@variable_in_body.fixed
def _(tf, keras):
    b = tf.Variable(12.)

    @tf.function
    def f():
        a = tf.constant([[10, 10], [11., 1.]])
        x = tf.constant([[1., 0.], [0., 1.]])
        y = tf.matmul(a, x) + b
        return y

    print(f())


global_variable = script_case(
    "tf-function-global-variable-lazy", family=_FAMILY,
    source="tf.function strange behavior with global variables",
    url="https://github.com/tensorflow/tensorflow/issues/33689",
    fidelity="verbatim",
    claim=Claim("ValueError", "tried to create variables on non-first call",
                where="bar() with `global foo` declared at the top of the function",
                versions="TF 2.0"),
    tags=("tf.Variable", "variable-creation", "global"),
    doc="""
    The report's first attempt: a `tf.function` creates a global `tf.Variable`
    lazily (`if foo is None: foo = tf.Variable(1)`), with `global foo` at the
    top of the body.  Fixed: the report's second version, identical except
    that `global foo` sits inside the `else` branch, which the reporter says
    works.  Each run resets the module-level `foo` to `None` first.
    """,
)


# The report's module-level variable; each run resets it so that runs don't share it.
foo = None


@global_variable.broken
def _(tf, keras):
    global foo
    foo = None

    @tf.function
    def bar(value=None):
        global foo
        if value is not None:
            result = tf.constant(value)
            return result
        else:
            if foo is None:
                foo = tf.Variable(1)
            return foo

    bar()


@global_variable.fixed
def _(tf, keras):
    global foo
    foo = None

    @tf.function
    def bar(value=None):
        if value is not None:
            result = tf.constant(value)
            return result
        else:
            global foo
            if foo is None:
                foo = tf.Variable(1)
            return foo

    bar()


variable_in_call = layer_case(
    "tf-function-variable-in-layer-call", family=_FAMILY,
    source="XLA compilation failure: tf.function fails due to tf.Variable creation inside call()",
    url="https://github.com/tensorflow/tensorflow/issues/105654",
    fidelity="adapted",
    claim=Claim("ValueError",
                "tf.function only supports singleton tf.Variables created on the first call",
                where="model called under @tf.function(jit_compile=True); eager works",
                versions="TF 2.20.0"),
    tags=("tf.Variable", "variable-creation", "xla", "call"),
    doc="""
    The report's model builds `feature_column` embedding columns whose
    variables are created inside `call()`.  Trimmed to the mechanism: a layer
    creates a `tf.Variable` scale in every `call()`.  Fix (what the error
    message asks): create the state once, with `add_weight` in `build`.
    """,
)


@variable_in_call.broken
def _(tf, keras):
    class ScaleInCall(keras.layers.Layer):
        def call(self, inputs):
            scale = tf.Variable(tf.ones((inputs.shape[-1],)), name="scale")
            return inputs * scale

    return Built(ScaleInCall(), x=np.arange(8, dtype="float32").reshape(2, 4))


@variable_in_call.fixed
def _(tf, keras):
    class ScaleInBuild(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(name="scale", shape=(input_shape[-1],),
                                         initializer="ones")

        def call(self, inputs):
            return inputs * self.scale

    return Built(ScaleInBuild(), x=np.arange(8, dtype="float32").reshape(2, 4))


layers_inside = script_case(
    "tf-function-keras-layers-created-inside", family=_FAMILY,
    source="ValueError when trying to speed up model by decorating tf.function",
    url="https://github.com/tensorflow/tensorflow/issues/36504",
    fidelity="reconstructed",
    claim=Claim("ValueError", "tried to create variables on non-first call",
                where="output = ModelTest(input_layer), ModelTest decorated with tf.function",
                versions="TF 2.1.0"),
    tags=("variable-creation", "Dense", "model-building"),
    doc="""
    A model-building function that creates `Flatten` and `Dense` layers is
    decorated with `@tf.function` to speed it up and called on a (1, 32, 32, 3)
    batch (written from the report's traceback; its code is not shown in
    full).  Fix (the maintainer's answer): create the layers outside the
    function, e.g. a Sequential model, and call the model, which Keras runs as
    a graph where it matters.
    """,
)


@layers_inside.broken
def _(tf, keras):
    @tf.function
    def ModelTest(input_layer):
        x = keras.layers.Flatten()(input_layer)
        return keras.layers.Dense(10)(x)

    input_layer = np.ones([1, 32, 32, 3], dtype=np.float32)
    output = ModelTest(input_layer)
    assert tuple(output.shape) == (1, 10), output.shape


@layers_inside.fixed
def _(tf, keras):
    model = keras.models.Sequential([
        keras.layers.Input([32, 32, 3]), keras.layers.Flatten(), keras.layers.Dense(10)])
    a = np.ones([1, 32, 32, 3], dtype=np.float32)
    output = model(a)
    assert tuple(output.shape) == (1, 10), output.shape


# ---------------------------------------------------------------- side effects

side_effect = script_case(
    "tf-function-python-side-effect", family=_FAMILY,
    source="Non-tensorflow code gets executed only on the first run of tf.function",
    url="https://github.com/tensorflow/tensorflow/issues/31362",
    fidelity="verbatim",
    claim=Claim("AssertionError", "obj.value is 1 after 5 calls",
                where="`o.value += 1` runs on the first (tracing) call only: the loop prints "
                      "0 then 1 four times",
                versions="TF 2.0.0-beta1"),
    tags=("side-effects", "tracing", "python-state"),
    doc="""
    The report's code: a `tf.function` increments a Python attribute
    (`o.value += 1`) and is called five times; the case then checks that the
    value is 5 and raises `AssertionError` with what it found.  Fix (the
    tf.function guide, "Executing Python side effects"): keep the state in a
    `tf.Variable` and update it with `assign_add`.
    """,
)


class _MyObj:
    def __init__(self):
        self.value = 0


@side_effect.broken
def _(tf, keras):
    obj = _MyObj()

    @tf.function
    def with_py_side_effect(tensorflow_stuff, o):
        o.value += 1
        return tensorflow_stuff

    for i in range(5):
        with_py_side_effect(None, obj)
    if obj.value != 5:
        raise AssertionError(f"obj.value is {obj.value} after 5 calls; expected 5")


@side_effect.fixed
def _(tf, keras):
    obj = _MyObj()
    obj.value = tf.Variable(0)

    @tf.function
    def with_tf_side_effect(tensorflow_stuff, o):
        o.value.assign_add(1)
        return tensorflow_stuff

    for i in range(5):
        with_tf_side_effect(None, obj)
    if int(obj.value.numpy()) != 5:
        raise AssertionError(f"obj.value is {int(obj.value.numpy())} after 5 calls; expected 5")


# ---------------------------------------------------------------- retracing

python_scalar = script_case(
    "tf-function-retracing-python-int", family=_FAMILY,
    source="[TF 2.0] non-tensor argument to target of tf.function logging slows down training",
    url="https://github.com/tensorflow/tensorflow/issues/32157",
    fidelity="reconstructed",
    claim=Claim("AssertionError", "traces for 6 calls",
                where="a Python int step passed to the tf.function train step retraces it every "
                      "step, which makes training slow",
                versions="TF 2.0.0-rc0"),
    tags=("retracing", "python-scalar", "performance"),
    doc="""
    The report passes the Python loop counter to a `tf.function` training
    step (for `tf.summary` logging) and training slows down.  Written as a
    tiny step function called with `step=0..5`; the case checks the number of
    traces (`experimental_get_tracing_count`) and raises `AssertionError` when
    every call traced.  Fix (the maintainer's reply, "Python or tensor
    args"): pass the step as a tensor, `tf.constant(step)`.
    """,
)


@python_scalar.broken
def _(tf, keras):
    w = tf.Variable(1.0)

    @tf.function
    def train_step(x, step):
        w.assign_sub(0.01 * tf.reduce_mean(x) * tf.cast(step, tf.float32))
        return w.read_value()

    x = tf.ones((2, 3))
    with _RetracingLog(tf) as log:
        for step in range(6):
            train_step(x, step)
    _check_traces(train_step, 6, 1, log)


@python_scalar.fixed
def _(tf, keras):
    w = tf.Variable(1.0)

    @tf.function
    def train_step(x, step):
        w.assign_sub(0.01 * tf.reduce_mean(x) * tf.cast(step, tf.float32))
        return w.read_value()

    x = tf.ones((2, 3))
    with _RetracingLog(tf) as log:
        for step in range(6):
            train_step(x, tf.constant(step))
    _check_traces(train_step, 6, 1, log)


new_shapes = script_case(
    "tf-function-retracing-new-shapes", family=_FAMILY,
    source="Is retracing inevitable when working with variously-sized inputs?",
    url="https://github.com/tensorflow/tensorflow/issues/38002",
    fidelity="adapted",
    claim=Claim("AssertionError", "triggered tf.function retracing",
                where="WARNING:tensorflow:5 out of the last 5 calls to <function train at ...> "
                      "triggered tf.function retracing",
                versions="TF 2.0"),
    tags=("retracing", "variable-length", "Conv1D", "GradientTape"),
    doc="""
    The report's model (`Input(shape=(None, input_dims))`, Conv1D, one output
    here instead of several) and its `@tf.function` training step, fed one
    document per batch with lengths 4 to 8 instead of 100 to 8000.  The case
    checks the trace count and raises `AssertionError` with TensorFlow's
    warning.  At most three traces pass: the first call traces twice while
    the optimizer creates its variables.  Fix (the warning's own advice):
    `reduce_retracing=True`, which traces a shape-generic graph after the
    second length.
    """,
)


def _conv1d_model(keras):
    inp = keras.Input(shape=(None, 2))
    lay = keras.layers.Conv1D(filters=4, kernel_size=3, padding="same", activation="relu",
                              kernel_initializer="ones")(inp)
    out = keras.layers.Conv1D(filters=3, kernel_size=3, activation="softmax", padding="same",
                              kernel_initializer="ones")(lay)
    return (keras.Model(inp, out), keras.losses.CategoricalCrossentropy(),
            keras.optimizers.SGD(learning_rate=0.01))


def _train_documents(tf, train):
    with _RetracingLog(tf) as log:
        for length in range(4, 9):
            x = np.ones((1, length, 2), dtype="float32")
            y = np.zeros((1, length, 3), dtype="float32")
            y[..., 0] = 1.0
            train(x, y)
    _check_traces(train, 5, 3, log)


@new_shapes.broken
def _(tf, keras):
    model, loss_object, optimizer = _conv1d_model(keras)

    @tf.function
    def train(x, y):
        with tf.GradientTape() as g:
            pred = model(x)
            loss = loss_object(y, pred)
        gradients = g.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    _train_documents(tf, train)


@new_shapes.fixed
def _(tf, keras):
    model, loss_object, optimizer = _conv1d_model(keras)

    @tf.function(reduce_retracing=True)
    def train(x, y):
        with tf.GradientTape() as g:
            pred = model(x)
            loss = loss_object(y, pred)
        gradients = g.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    _train_documents(tf, train)


batch_sizes = script_case(
    "tf-function-retracing-predict-on-batch", family=_FAMILY,
    source="[TF 2.1rc0] The `{predict,train,test}_on_batch` trace functions with fixed batch size",
    url="https://github.com/tensorflow/tensorflow/issues/34907",
    fidelity="verbatim",
    claim=Claim("AssertionError", "triggered tf.function retracing",
                where="WARNING:tensorflow:5 out of the last 5 calls to <...Sequential object> "
                      "triggered tf.function retracing",
                versions="TF 2.1.0rc0"),
    tags=("retracing", "predict_on_batch", "batch-size", "Sequential"),
    doc="""
    The report's code: `model.predict_on_batch(np.ones([i, 1]))` for batch
    sizes 1 to 7 (the report goes to 299), with the environment's `keras` for
    `tf.keras`.  The case raises `AssertionError`
    when TensorFlow logs the retracing warning.  No fixed variant: the fix was
    in Keras (PR #35019 traces these functions with relaxed shapes).
    """,
)


@batch_sizes.broken
def _(tf, keras):
    model = keras.Sequential([
        keras.layers.Dense(1, input_shape=[1])
    ])
    model.compile(optimizer=keras.optimizers.Adam(),
                  loss=keras.losses.MeanSquaredError())

    with _RetracingLog(tf) as log:
        for i in range(1, 8):
            model.predict_on_batch(np.ones([i, 1]))
    if log.lines:
        raise AssertionError("TensorFlow logged that the calls triggered tf.function retracing.")


# ---------------------------------------------------------------- tf.function on call

autograph_call = script_case(
    "keras3-call-without-autograph", family=_FAMILY,
    source="Migrating Keras 2 code to multi-backend Keras 3: TF autograph",
    url="https://keras.io/guides/migrating_to_keras_3",
    fidelity="verbatim",
    claim=Claim("OperatorNotAllowedInGraphError",
                "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed",
                where="model.predict(data) on a Sequential model holding the layer",
                versions="Keras 3"),
    tags=("keras3-migration", "autograph", "call", "python-bool"),
    doc="""
    The guide's layer branches with a Python `if` on `tf.random.uniform(())`;
    Keras 2 runs AutoGraph on `call`, Keras 3 does not.  The random draw gets a
    seed here.  Fix (the guide's): decorate `call` with `@tf.function()`.
    """,
)


def _predict_custom_layer(keras, layer):
    data = np.random.default_rng(0).uniform(size=[3, 3])
    model = keras.models.Sequential([layer])
    model.compile(optimizer="adam", loss="mse")
    model.predict(data, verbose=0)


@autograph_call.broken
def _(tf, keras):
    class MyCustomLayer(keras.layers.Layer):
        def call(self, inputs):
            if tf.random.uniform((), seed=1) > 0.5:
                return inputs * 2
            else:
                return inputs / 2

    _predict_custom_layer(keras, MyCustomLayer())


@autograph_call.fixed
def _(tf, keras):
    class MyCustomLayer(keras.layers.Layer):
        @tf.function()
        def call(self, inputs):
            if tf.random.uniform((), seed=1) > 0.5:
                return inputs * 2
            else:
                return inputs / 2

    _predict_custom_layer(keras, MyCustomLayer())


python_seed = script_case(
    "keras3-python-int-seed-in-compiled-layer", family=_FAMILY,
    source="Migrating Keras 2 code to multi-backend Keras 3: RNG-using layers",
    url="https://keras.io/guides/migrating_to_keras_3",
    fidelity="reconstructed",
    claim=Claim("AssertionError", "drew the same noise",
                where="a layer that increments a Python integer seed: \"the first Python "
                      "integer seed value seen by the layer would be hardcoded into the "
                      "compiled graph\"",
                versions="Keras 3"),
    tags=("randomness", "seed", "tracing", "keras.random"),
    doc="""
    The guide describes, without code, a noise layer that increments a
    Python integer and passes it as the seed: compiled, every call reuses the
    first value.  Written with `tf.random.stateless_uniform` so it runs on
    every Keras; the case compiles the layer with `tf.function`, calls it
    twice and raises `AssertionError` when both calls add the same noise.
    Fix (the guide's RandomNoiseLayer, plus the `shape=` its
    `keras.random.uniform` call leaves out): a `keras.random.SeedGenerator`,
    which only Keras 3 has.
    """,
)


def _two_compiled_calls(tf, layer):
    x = tf.zeros((2, 3))
    compiled = tf.function(layer)
    first, second = compiled(x).numpy(), compiled(x).numpy()
    if np.allclose(first, second):
        raise AssertionError("two compiled calls drew the same noise")


@python_seed.broken
def _(tf, keras):
    class RandomNoiseLayer(keras.layers.Layer):
        def __init__(self, noise_rate, **kwargs):
            super().__init__(**kwargs)
            self.noise_rate = noise_rate
            self.seed = 1337

        def call(self, inputs):
            self.seed += 1
            noise = tf.random.stateless_uniform(tf.shape(inputs), seed=[self.seed, 0],
                                                maxval=self.noise_rate)
            return inputs + noise

    _two_compiled_calls(tf, RandomNoiseLayer(0.1))


@python_seed.fixed
def _(tf, keras):
    class RandomNoiseLayer(keras.layers.Layer):
        def __init__(self, noise_rate, **kwargs):
            super().__init__(**kwargs)
            self.noise_rate = noise_rate
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            noise = keras.random.uniform(
                minval=0, maxval=self.noise_rate, shape=inputs.shape, seed=self.seed_generator
            )
            return inputs + noise

    _two_compiled_calls(tf, RandomNoiseLayer(0.1))
