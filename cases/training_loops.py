"""Training loops: ``train_step`` overrides, custom metrics and custom losses.

Keras 2 code customises ``fit`` through ``self.compiled_loss``,
``self.compiled_metrics`` and ``optimizer.apply_gradients``; Keras 3 asks for
``compute_loss`` and a loop over ``self.metrics``.  Custom metrics meet
``reset_state``/``reset_states`` and non-scalar state; custom losses meet the
casting and reduction ``Loss.__call__`` applies before ``call``, and
variables created inside the loss that ``fit`` traces.  Every case trains a
tiny model for one or two steps.

Where a report describes a wrong value rather than an exception, the broken
variant checks the value the user expected and raises ``AssertionError``;
where it describes a deprecation warning, the warning is raised as an error.
The claim records that exception and ``where`` quotes the report.
"""

import warnings

import numpy as np

from tfcanary.case import Claim, script_case

_FAMILY = "training-loops"


def _data(n=4, features=3):
    x = np.linspace(-1, 1, n * features, dtype="float32").reshape(n, features)
    y = np.linspace(0, 1, n, dtype="float32").reshape(n, 1)
    return x, y


def _dense_model(keras, model_class, features=3):
    inp = keras.Input(shape=(features,))
    out = keras.layers.Dense(1, kernel_initializer="ones")(inp)
    return model_class(inp, out)


# ---------------------------------------------------------------- train_step

compiled_loss = script_case(
    "train-step-compiled-loss", family=_FAMILY,
    source="Remove deprecated property calls",
    url="https://github.com/keras-team/keras-io/pull/1630",
    fidelity="reconstructed",
    claim=Claim("UserWarning", "`model.compiled_loss()` is deprecated",
                where="a Keras 2 train_step calling self.compiled_loss and "
                      "self.compiled_metrics.update_state, run by Keras 3",
                versions="Keras 3 (November 2023)"),
    tags=("train_step", "compiled_loss", "compiled_metrics", "keras3-migration"),
    doc="""
    The Keras 2 `train_step` of the "Customizing what happens in fit()"
    guide (`self.compiled_loss(y, y_pred, regularization_losses=self.losses)`,
    `self.compiled_metrics.update_state(y, y_pred)`), which the PR replaces in
    the keras-io examples.  The case turns Keras 3's deprecation warning into
    an error.  Fix (the PR's): `self.compute_loss(y=y, y_pred=y_pred)` and
    `metric.update_state` over `self.metrics`.
    """,
)


def _fit_custom(keras, model_class):
    x, y = _data()
    model = _dense_model(keras, model_class)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*model\.compiled_(loss|metrics)\(\)` is "
                                                 r"deprecated", category=UserWarning)
        model.fit(x, y, epochs=1, batch_size=4, verbose=0)


@compiled_loss.broken
def _(tf, keras):
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    _fit_custom(keras, CustomModel)


@compiled_loss.fixed
def _(tf, keras):
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    _fit_custom(keras, CustomModel)


no_loss = script_case(
    "train-step-compile-without-loss", family=_FAMILY,
    source="`ValueError: The model cannot be compiled because it has no loss to optimize.`",
    url="https://github.com/keras-team/keras-io/issues/73",
    fidelity="adapted",
    claim=Claim("ValueError", "The model cannot be compiled because it has no loss to optimize",
                where="model.compile(optimizer=\"adam\") for a model whose train_step computes "
                      "its own loss",
                versions="TF 2.0/2.1 (the guide needs 2.2)"),
    tags=("train_step", "compile", "metrics-property"),
    doc="""
    The guide's "Going lower-level" example: `train_step` computes the MSE
    itself, updates a `Mean` loss tracker and a `MeanAbsoluteError` metric
    listed in a `metrics` property, and `compile` gets only an optimizer.
    Data are 4 samples of 3 features.  The fix was a newer TensorFlow (2.2),
    so there is no fixed variant.
    """,
)


@no_loss.broken
def _(tf, keras):
    loss_tracker = keras.metrics.Mean(name="loss")
    mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = keras.losses.mean_squared_error(y, y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply_gradients(zip(gradients, trainable_vars))
            loss_tracker.update_state(loss)
            mae_metric.update_state(y, y_pred)
            return {"loss": loss_tracker.result(), "mae": mae_metric.result()}

        @property
        def metrics(self):
            return [loss_tracker, mae_metric]

    x, y = _data()
    model = _dense_model(keras, CustomModel)
    model.compile(optimizer="adam")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)


compute_loss = script_case(
    "compute-loss-override", family=_FAMILY,
    source="Model.compute_loss documentation section is not correct. compute_loss function "
           "is not called",
    url="https://github.com/tensorflow/tensorflow/issues/55216",
    fidelity="adapted",
    claim=Claim("AssertionError", "compute_loss was not called",
                where="\"compute_loss is called:\" is never printed during fit",
                versions="TF 2.6.0"),
    tags=("compute_loss", "add_loss", "reset_states", "steps_per_execution"),
    doc="""
    The report's model: a functional `MyModel` overriding
    `compute_loss(x, y, y_pred, sample_weight)` (MSE plus `self.losses`) and
    `reset_metrics` (`reset_states` on its tracker), a symbolic
    `model.add_loss(tf.reduce_sum(outputs))`, compiled with
    `steps_per_execution=10`.  It fits 2 epochs of 10 steps on seeded random
    data; a `tf.Variable` counts the `compute_loss` calls in place of
    `tf.print`.  The API appeared in TF 2.8, so there is no fixed variant.
    """,
)


@compute_loss.broken
def _(tf, keras):
    calls = tf.Variable(0)

    class MyModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super(MyModel, self).__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name='loss')

        def compute_loss(self, x, y, y_pred, sample_weight):
            calls.assign_add(1)
            loss = tf.reduce_mean(tf.math.squared_difference(y_pred, y))
            loss += tf.add_n(self.losses)
            self.loss_tracker.update_state(loss)
            return loss

        def reset_metrics(self):
            self.loss_tracker.reset_states()

        @property
        def metrics(self):
            return [self.loss_tracker]

    tf.random.set_seed(0)
    tensors = tf.random.uniform((10, 10)), tf.random.uniform((10,))
    dataset = tf.data.Dataset.from_tensor_slices(tensors).repeat().batch(1)

    inputs = keras.layers.Input(shape=(10,), name='my_input')
    outputs = keras.layers.Dense(10)(inputs)
    model = MyModel(inputs, outputs)
    model.add_loss(tf.reduce_sum(outputs))

    optimizer = keras.optimizers.SGD()
    model.compile(optimizer, loss='mse', steps_per_execution=10)
    model.fit(dataset, epochs=2, steps_per_epoch=10, verbose=0)
    if int(calls.numpy()) == 0:
        raise AssertionError("compute_loss was not called during fit")


# ---------------------------------------------------------------- metrics

nonscalar_reset = script_case(
    "metric-reset-state-nonscalar", family=_FAMILY,
    source="metrics.reset_state ignores shape of weights",
    url="https://github.com/keras-team/keras/issues/16359",
    fidelity="reconstructed",
    claim=Claim("ValueError", "",
                where="Metric.reset_state assigns a scalar 0 to every variable, so a metric "
                      "with a non-scalar weight cannot be reset",
                versions="TF 2.8.0"),
    tags=("Metric", "reset_state", "add_weight"),
    doc="""
    A custom metric keeps a per-class count in a weight of shape (3,),
    updates it once and is reset, as `fit` does between epochs; written from
    the report's description.  Fix: override `reset_state` to assign zeros of
    the weight's shape.
    """,
)


def _per_class_metric(tf, keras, own_reset):
    class PerClassCount(keras.metrics.Metric):
        def __init__(self, name="per_class_count", **kwargs):
            super().__init__(name=name, **kwargs)
            self.counts = self.add_weight(name="counts", shape=(3,), initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.counts.assign_add(tf.reduce_sum(tf.cast(y_pred, "float32"), axis=0))

        def result(self):
            return tf.reduce_sum(self.counts)

        if own_reset:
            def reset_state(self):
                self.counts.assign(tf.zeros(self.counts.shape, "float32"))

    metric = PerClassCount()
    x, _ = _data()
    metric.update_state(x, x)
    metric.reset_state()
    assert float(np.asarray(metric.result())) == 0.0, metric.result()


@nonscalar_reset.broken
def _(tf, keras):
    _per_class_metric(tf, keras, own_reset=False)


@nonscalar_reset.fixed
def _(tf, keras):
    _per_class_metric(tf, keras, own_reset=True)


reset_states = script_case(
    "metric-reset-states-renamed", family=_FAMILY,
    source="Custom metrics doc doesn't mention `assign` method",
    url="https://github.com/tensorflow/tensorflow/issues/51862",
    fidelity="reconstructed",
    claim=Claim(None, where="`reset_states` is deprecated, it should be `reset_state`",
                versions="TF 2.6 documentation"),
    tags=("Metric", "reset_states", "keras3-migration"),
    doc="""
    The report notes that the custom-metrics guide still defines
    `reset_states`, deprecated in favour of `reset_state`.  The case is the
    guide's pattern: a PSNR-like metric whose `reset_states` is called
    between epochs by user code.  Fix (the report's): `reset_state`.
    """,
)


def _psnr_metric(tf, keras):
    class PSNR(keras.metrics.Metric):
        def __init__(self, name="PSNR", **kwargs):
            super().__init__(name=name, **kwargs)
            self.psnr = self.add_weight(name="PSNR", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            mse = tf.reduce_mean(tf.square(y_true - y_pred))
            self.psnr.assign_add(-10.0 * tf.math.log(mse + 1e-6) / tf.math.log(10.0))

        def result(self):
            return self.psnr

    metric = PSNR()
    x, _ = _data()
    metric.update_state(x, x * 0.5)
    return metric


@reset_states.broken
def _(tf, keras):
    metric = _psnr_metric(tf, keras)
    metric.reset_states()
    assert float(np.asarray(metric.result())) == 0.0


@reset_states.fixed
def _(tf, keras):
    metric = _psnr_metric(tf, keras)
    metric.reset_state()
    assert float(np.asarray(metric.result())) == 0.0


dataset_weights = script_case(
    "metric-dataset-sample-weight", family=_FAMILY,
    source="tf dataset sample_weight is not passed to custom metrics (or any metrics).",
    url="https://github.com/tensorflow/tensorflow/issues/44068",
    fidelity="adapted",
    claim=Claim("AssertionError", "the metric saw a sample-weight sum of 0",
                where="update_state of a custom metric gets sample_weight=None when the "
                      "weights come from a (x, y, w) tf.data.Dataset",
                versions="TF 2.3.0"),
    tags=("Metric", "sample_weight", "tf.data", "weighted_metrics"),
    doc="""
    The report's linear regression on a `(x, y, w)` dataset with a custom
    metric that sums the sample weights it receives; 10 samples from a
    seeded generator, batches of 2, one epoch.  The case raises
    `AssertionError` when the metric's result is not the sum of the weights.
    Fix: pass the metric as `weighted_metrics`, the `compile` argument whose
    metrics receive sample weights.
    """,
)


def _fit_sample_weight_metric(tf, keras, weighted):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 1)).astype('float32')
    y = rng.standard_normal((10, 1)).astype('float32')
    w = rng.integers(0, 2, (10, 1)).astype('float32')  # sample weight
    w[0] = 1.0

    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(2)

    model = keras.Sequential()  # simple linear regression
    model.add(keras.layers.Dense(1, kernel_initializer="ones"))

    class TestSampleWeight(keras.metrics.Metric):
        def __init__(self, name="test_sample_weight", **kwargs):
            super(TestSampleWeight, self).__init__(name=name, **kwargs)
            self.sample_weight_sum = self.add_weight(name="sws", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            if sample_weight is not None:
                self.sample_weight_sum.assign_add(tf.reduce_sum(sample_weight))

        def result(self):
            return tf.identity(self.sample_weight_sum)

    metric = TestSampleWeight()
    if weighted:
        model.compile(optimizer="sgd", loss="mse", weighted_metrics=[metric])
    else:
        model.compile(optimizer="sgd", loss="mse", metrics=[metric])
    history = model.fit(ds, epochs=1, verbose=0)
    seen = float(history.history["test_sample_weight"][-1])
    if not np.isclose(seen, float(w.sum())):
        raise AssertionError(f"the metric saw a sample-weight sum of {seen:g}; "
                             f"the dataset's weights sum to {float(w.sum()):g}")


@dataset_weights.broken
def _(tf, keras):
    _fit_sample_weight_metric(tf, keras, weighted=False)


@dataset_weights.fixed
def _(tf, keras):
    _fit_sample_weight_metric(tf, keras, weighted=True)


# ---------------------------------------------------------------- losses

loss_variable = script_case(
    "loss-creates-variable", family=_FAMILY,
    source="ValueError: tf.function only supports singleton tf.Variables created on the first "
           "call. Make sure the tf.Variable is only created once or created outside tf.function.",
    url="https://github.com/dhirajmaji7/Attention-Res-UNet-with-Guided-Decoder-for-Semantic-"
        "Segmentation-of-Brain-tumors/issues/1",
    fidelity="reconstructed",
    claim=Claim("ValueError",
                "tf.function only supports singleton tf.Variables created on the first call",
                where="weights = K.variable(weights) inside weighted_log_loss, during fit"),
    tags=("loss", "K.variable", "variable-creation", "fit"),
    doc="""
    The report's traceback: a weighted log loss wraps its class weights in
    `K.variable(weights)` on every call, and `fit` traces the loss in its
    train function.  Written from the traceback with a 3-class softmax model
    and the weighted cross-entropy the name suggests.  Fix: wrap the weights
    once as a constant (`K.constant`), outside any variable creation.
    """,
)


def _fit_weighted_loss(tf, keras, make_weights):
    class_weights = np.array([1.0, 2.0, 0.5], dtype="float32")

    def weighted_log_loss(y_true, y_pred):
        weights = make_weights(class_weights)
        y_pred = tf.clip_by_value(y_pred, 1e-7, 1.0 - 1e-7)
        return -tf.reduce_mean(tf.reduce_sum(y_true * tf.math.log(y_pred) * weights, -1))

    x, _ = _data()
    y = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
    inp = keras.Input(shape=(3,))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax",
                                                kernel_initializer="ones")(inp))
    model.compile(optimizer="sgd", loss=weighted_log_loss)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)


@loss_variable.broken
def _(tf, keras):
    _fit_weighted_loss(tf, keras, lambda w: keras.backend.variable(w))


@loss_variable.fixed
def _(tf, keras):
    _fit_weighted_loss(tf, keras, lambda w: tf.constant(w))


sample_weight = script_case(
    "loss-sample-weight-reduction", family=_FAMILY,
    source="Unexpected Losses with Sample Weights",
    url="https://github.com/keras-team/keras/issues/19740",
    fidelity="verbatim",
    claim=Claim("AssertionError", "loss 0.5, metric 1",
                where="MeanAbsoluteError loss with sample_weight [[0], [1]] returns 0.5, the "
                      "metric 1.0: the loss divides by the batch size, not the weights",
                versions="Keras 3 (May 2024)"),
    tags=("loss", "sample_weight", "reduction", "metrics"),
    doc="""
    The report's two calls: `keras.losses.MeanAbsoluteError()` and
    `keras.metrics.MeanAbsoluteError()` on the same targets and sample
    weights.  The case raises `AssertionError` when they differ.  The
    proposed change (keras-team/keras#20253) was closed unmerged, so there
    is no fixed variant.
    """,
)


@sample_weight.broken
def _(tf, keras):
    loss = keras.losses.MeanAbsoluteError()(
        y_true=np.array([[1.0], [2.0]]),
        y_pred=np.array([[2.0], [3.0]]),
        sample_weight=np.array([[0.0], [1.0]])
    ).numpy()
    metric = keras.metrics.MeanAbsoluteError()(
        y_true=np.array([[1.0], [2.0]]),
        y_pred=np.array([[2.0], [3.0]]),
        sample_weight=np.array([[0.0], [1.0]])
    ).numpy()
    if not np.isclose(loss, metric):
        raise AssertionError(f"loss {float(loss):g}, metric {float(metric):g}")


integer_labels = script_case(
    "loss-labels-cast-to-float", family=_FAMILY,
    source="Keras 3 converts loss dtype in __init__ where keras 2 did not",
    url="https://github.com/keras-team/keras/issues/20060",
    fidelity="adapted",
    claim=Claim("TypeError", "",
                where="tf.nn.sparse_softmax_cross_entropy_with_logits gets y_true cast to float32 "
                      "by Loss.__call__",
                versions="Keras 3 (July 2024)"),
    tags=("loss", "dtype", "Loss.call", "keras3-migration"),
    doc="""
    The report's loss subclass calls
    `tf.nn.sparse_softmax_cross_entropy_with_logits(y_true, y_pred)`, which
    needs integer labels; Keras 3's `Loss.__call__` casts `y_true` to the
    loss dtype first.  Called on the report's batch (a (1, 2) float input,
    int64 label [0]), with logits from a Dense layer.  Fix used here: cast
    the labels back to an integer type in `call` (the thread's suggestion of
    `dtype=` in `super().__init__` would cast the logits as well).
    """,
)


def _integer_label_loss(tf, keras, cast_back):
    class _CustomLossRequiringLabelBeInteger(keras.losses.Loss):

        def __init__(self):
            super().__init__(name='custom_loss_requiring_label_be_integer')

        def call(self, y_true, y_pred):
            if cast_back:
                y_true = tf.cast(y_true, tf.int64)
            return tf.nn.sparse_softmax_cross_entropy_with_logits(y_true, y_pred)

    x = tf.convert_to_tensor(np.ones((1, 2)), dtype=tf.float32)
    y = tf.convert_to_tensor([0], dtype=tf.int64)
    logits = keras.layers.Dense(3, kernel_initializer="ones")(x)
    loss = _CustomLossRequiringLabelBeInteger()(y, logits)
    assert np.isfinite(float(loss)), loss


@integer_labels.broken
def _(tf, keras):
    _integer_label_loss(tf, keras, cast_back=False)


@integer_labels.fixed
def _(tf, keras):
    _integer_label_loss(tf, keras, cast_back=True)
