"""Serialization: get_config / from_config, registration, and save/load formats.

A custom layer or model is rebuilt on load from ``get_config()`` through
``from_config()``; its class is found by name in ``custom_objects`` or in the
``register_keras_serializable`` registry.  Keras 3 saves only ``.keras`` and
``.h5``: a TensorFlow SavedModel is written with ``model.export`` or
``tf.saved_model.save`` and read back with ``tf.saved_model.load`` or
``keras.layers.TFSMLayer``.  Cases write their files in a temporary directory
of their own.  Fixed variants follow the fix the report, the maintainers or the
guide give.
"""

import contextlib
import inspect
import os
import shutil
import tempfile

import numpy as np

from tfcanary.case import Claim, script_case

_FAMILY = "serialization"


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


@contextlib.contextmanager
def _registered(keras):
    """Remove what a variant registers with register_keras_serializable, so
    that another variant (or a rerun in the same worker) can register again."""
    objects = keras.utils.get_custom_objects()
    before = set(objects)
    try:
        yield
    finally:
        for name in set(objects) - before:
            objects.pop(name, None)


def _saving(keras):
    """keras.saving where it exists (TF 2.13-2.15, top-level Keras 3); keras.utils
    otherwise (tf.keras on TF 2.16+ has no ``saving`` module)."""
    saving = getattr(keras, "saving", None)
    if saving is not None and hasattr(saving, "serialize_keras_object"):
        return saving
    return keras.utils


# --------------------------------------------------------------- file formats

bilstm = script_case(
    "bidirectional-lstm-keras-roundtrip", family=_FAMILY,
    source="Loading of a model with a Bidirectional LSTM layer no longer working in TensorFlow 2.16.1",
    url="https://github.com/tensorflow/tensorflow/issues/65395",
    fidelity="verbatim",
    claim=Claim("ValueError", "expected 3 variables, but received 0 variables during loading",
                where="load_model('model.keras')", versions="TF 2.16.1 (works in 2.15.1)"),
    tags=("keras-format", "Bidirectional", "LSTM", "keras3-migration"),
    doc="""
    `Bidirectional(LSTM(units=4), merge_mode='concat')` on `Input(shape=(17,
    4))`, saved to `model.keras` and loaded back.  No fixed variant: the
    thread's fix is a newer release.
    """,
)


@bilstm.broken
def _(tf, keras):
    with _scratch_dir():
        inputs = [keras.layers.Input(shape=(17, 4))]
        layer = keras.layers.Bidirectional(keras.layers.LSTM(units=4), merge_mode="concat")(inputs[0])
        model = keras.models.Model(inputs=inputs, outputs=[layer])
        model.save("model.keras")
        keras.models.load_model("model.keras")


savedmodel_dir = script_case(
    "load-model-on-savedmodel-dir", family=_FAMILY,
    source="load saved model in keras with tensorflow backend!",
    url="https://github.com/keras-team/keras/issues/18709",
    fidelity="adapted",
    claim=Claim("ValueError", "File format not supported", where="keras.models.load_model('my_model')",
                versions="Keras 3 (keras-core, October 2023); works with tf.keras"),
    tags=("savedmodel", "keras3-migration", "load_model"),
    doc="""
    A TensorFlow SavedModel directory (written here with
    `tf.saved_model.save`, as the maintainer suggests for SavedModels) is
    opened with `keras.models.load_model`.  Fix (fchollet in the thread): save
    and load with a `.keras` extension.
    """,
)


def _small_model(keras):
    model = keras.Sequential([keras.Input(shape=(4,)),
                              keras.layers.Dense(2, kernel_initializer="ones")])
    return model


@savedmodel_dir.broken
def _(tf, keras):
    with _scratch_dir():
        model = _small_model(keras)
        tf.saved_model.save(model, "my_model")
        loaded = keras.models.load_model("my_model")
        out = np.asarray(loaded(np.ones((2, 4), "float32")))
        assert np.allclose(out, 4.0), out


@savedmodel_dir.fixed
def _(tf, keras):
    with _scratch_dir():
        model = _small_model(keras)
        model.save("my_model.keras")
        loaded = keras.models.load_model("my_model.keras")
        out = np.asarray(loaded(np.ones((2, 4), "float32")))
        assert np.allclose(out, 4.0), out


save_format_tf = script_case(
    "save-format-tf-savedmodel", family=_FAMILY,
    source="Please provide support for tf SavedModel format",
    url="https://github.com/keras-team/keras-core/issues/664",
    fidelity="adapted",
    claim=Claim("ValueError", "formats are no longer supported via the `save_format` option",
                where="model.save(model_folder, save_format='tf')", versions="Keras Core (August 2023)"),
    tags=("savedmodel", "save_format", "keras3-migration"),
    doc="""
    `model.save(model_folder, save_format="tf")` to get a SavedModel for an
    inference pipeline.  Fix (fchollet in the thread): `tf.saved_model.save`,
    read back with `tf.saved_model.load`.
    """,
)


@save_format_tf.broken
def _(tf, keras):
    with _scratch_dir():
        model = _small_model(keras)
        model.save("model_folder", save_format="tf")
        restored = tf.saved_model.load("model_folder")
        out = np.asarray(restored(tf.ones((2, 4))))
        assert np.allclose(out, 4.0), out


@save_format_tf.fixed
def _(tf, keras):
    with _scratch_dir():
        model = _small_model(keras)
        tf.saved_model.save(model, "model_folder")
        restored = tf.saved_model.load("model_folder")
        fn = restored.signatures["serving_default"]
        out = list(fn(tf.ones((2, 4))).values())[0]
        assert np.allclose(np.asarray(out), 4.0), out


tflite_export = script_case(
    "saved-model-save-then-tflite", family=_FAMILY,
    source="Error When Converting Keras Model to TensorFlow Lite Format",
    url="https://github.com/keras-team/keras/issues/19108",
    fidelity="adapted",
    claim=None,
    tags=("savedmodel", "tflite", "export", "keras3-migration"),
    doc="""
    The report's Flatten / Dense(64) / Dense(10) classifier (trained on
    Fashion-MNIST there; here a 4x4 input, Dense(8) / Dense(3) and no training)
    is written with `tf.saved_model.save` and converted with
    `tf.lite.TFLiteConverter.from_saved_model`.  Fix (the maintainer's answer):
    `model.export("test", "tf_saved_model")` instead of `tf.saved_model.save`
    (the format argument is passed only where `export` takes it).  No claim
    recorded: the thread reports an error with Keras 3.0.4 (none with TF 2.15's
    tf.keras) but not its text.
    """,
)


def _classifier(keras):
    model = keras.Sequential([keras.Input(shape=(4, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    return model


def _convert(tf):
    converter = tf.lite.TFLiteConverter.from_saved_model("test")
    tflite_model = converter.convert()
    assert len(tflite_model) > 0


@tflite_export.broken
def _(tf, keras):
    with _scratch_dir():
        test_model = _classifier(keras)
        tf.saved_model.save(test_model, "test")
        _convert(tf)


@tflite_export.fixed
def _(tf, keras):
    with _scratch_dir():
        test_model = _classifier(keras)
        if "format" in inspect.signature(test_model.export).parameters:
            test_model.export("test", "tf_saved_model")
        else:
            test_model.export("test")
        _convert(tf)


# --------------------------------------------------------------- get_config / from_config

sublayer_config = script_case(
    "sublayer-in-get-config", family=_FAMILY,
    source="Update custom_object documentation and __init__() arg serialization_and_saving.py",
    url="https://github.com/keras-team/keras-io/pull/1461",
    fidelity="adapted",
    claim=None,
    tags=("get_config", "from_config", "nested-layer", "keras-format"),
    doc="""
    The guide's `CustomLayer(sublayer)` whose `get_config` returns the
    sublayer object itself, in a functional model saved to `.keras` and
    loaded with the class in `custom_objects`; the outputs are compared.  Fix
    (the guide's): `serialize_keras_object` in `get_config`,
    `deserialize_keras_object` in `from_config`.  No claim recorded: the guide
    says the argument must be (de)serialized, not what fails otherwise.  Every layer gets an
    explicit `dtype`: with the shared default policy, Keras 3's error message
    prints the policy's `shared_object_id`, an object address.  On TF 2.12
    the fixed variant's reload fails too: its `deserialize_keras_object` does
    not find the built-in `Dense` from this config ("Unknown object:
    'Dense'").
    """,
)


def _sublayer_roundtrip(keras, cls):
    inp = keras.Input(shape=(3,), dtype="float32")
    sublayer = keras.layers.Dense(2, kernel_initializer="ones", dtype="float32")
    model = keras.Model(inp, cls(sublayer, dtype="float32")(inp))
    x = np.ones((2, 3), "float32")
    before = np.asarray(model(x))
    model.save("custom.keras")
    loaded = keras.models.load_model("custom.keras", custom_objects={"CustomLayer": cls})
    after = np.asarray(loaded(x))
    assert np.allclose(before, after), (before, after)


@sublayer_config.broken
def _(tf, keras):
    class CustomLayer(keras.layers.Layer):
        def __init__(self, sublayer, **kwargs):
            super().__init__(**kwargs)
            self.sublayer = sublayer

        def call(self, x):
            return self.sublayer(x)

        def get_config(self):
            return {**super().get_config(), "sublayer": self.sublayer}

    with _scratch_dir():
        _sublayer_roundtrip(keras, CustomLayer)


@sublayer_config.fixed
def _(tf, keras):
    saving = _saving(keras)

    class CustomLayer(keras.layers.Layer):
        def __init__(self, sublayer, **kwargs):
            super().__init__(**kwargs)
            self.sublayer = sublayer

        def call(self, x):
            return self.sublayer(x)

        def get_config(self):
            base_config = super().get_config()
            config = {"sublayer": saving.serialize_keras_object(self.sublayer)}
            return {**base_config, **config}

        @classmethod
        def from_config(cls, config):
            sublayer_config = config.pop("sublayer")
            sublayer = saving.deserialize_keras_object(sublayer_config)
            return cls(sublayer, **config)

    with _scratch_dir():
        _sublayer_roundtrip(keras, CustomLayer)


subclassed_from_config = script_case(
    "subclassed-model-without-from-config", family=_FAMILY,
    source="Can't load subclassed model 's architecture from keras.layers.serialize(model)",
    url="https://github.com/tensorflow/tensorflow/issues/40429",
    fidelity="verbatim",
    claim=Claim("KeyError", "layers", where="keras.layers.deserialize(serialized_model, ...)",
                versions="TF 2.2"),
    tags=("get_config", "from_config", "subclassed-model"),
    doc="""
    The report's `ThreeLayerMLP` (hidden units [64, 64, 10]; here [4, 4, 2])
    defines `get_config` but not `from_config`, then goes through
    `keras.layers.serialize` / `deserialize`.  The claimed error class is the
    one tensorflow/tensorflow#46828 explains (`Model.from_config` looks for
    the functional 'layers' key).  Fix (#46828): define `from_config`.
    """,
)


def _mlp_class(keras, with_from_config):
    layers = keras.layers

    class ThreeLayerMLP(keras.Model):
        def __init__(self, hidden_units, **kwargs):
            super().__init__(**kwargs)
            self.hidden_units = hidden_units
            self.dense_layers = [layers.Dense(u) for u in hidden_units]

        def call(self, inputs):
            x = inputs
            for layer in self.dense_layers:
                x = layer(x)
            return x

        def get_config(self):
            config = {"hidden_units": self.hidden_units}
            return config

    if with_from_config:
        ThreeLayerMLP.from_config = classmethod(lambda cls, config: cls(**config))
    return ThreeLayerMLP


def _serialize_roundtrip(keras, cls):
    model = cls([4, 4, 2])
    serialized_model = keras.layers.serialize(model)
    new_model = keras.layers.deserialize(serialized_model, custom_objects={"ThreeLayerMLP": cls})
    assert list(new_model.hidden_units) == [4, 4, 2], new_model.hidden_units


@subclassed_from_config.broken
def _(tf, keras):
    _serialize_roundtrip(keras, _mlp_class(keras, with_from_config=False))


@subclassed_from_config.fixed
def _(tf, keras):
    _serialize_roundtrip(keras, _mlp_class(keras, with_from_config=True))


# --------------------------------------------------------------- finding custom objects

register_subclass = script_case(
    "register-serializable-dense-subclass", family=_FAMILY,
    source="TF2.13 Breaks register_keras_serializable",
    url="https://github.com/tensorflow/tensorflow/issues/61085",
    fidelity="reconstructed",
    claim=Claim("ValueError", "Unknown layer: 'MyDense'", where="deserializing the registered layer",
                versions="TF 2.13.0rc2 (works in 2.12)"),
    tags=("register_keras_serializable", "Dense", "keras-format"),
    doc="""
    The report's `MyDense(Dense)` registered with
    `register_keras_serializable('my_package')` (its reproduction is a Colab
    notebook; here the layer goes through `keras.layers.serialize` /
    `deserialize` and a `.keras` save/load in a model; the decorator is taken
    from `keras.saving`, or `keras.utils` where `tf.keras` has no `saving`).
    No fixed variant: the thread's fix is in Keras.
    """,
)


@register_subclass.broken
def _(tf, keras):
    with _scratch_dir():
        with _registered(keras):
            @_saving(keras).register_keras_serializable("my_package")
            class MyDense(keras.layers.Dense):
                def __init__(self, units, **kwargs):
                    super().__init__(units, **kwargs)

            layer = keras.layers.deserialize(keras.layers.serialize(MyDense(2)))
            assert type(layer).__name__ == "MyDense", type(layer)
            model = keras.Sequential([keras.Input(shape=(3,)), MyDense(2, kernel_initializer="ones")])
            model.save("my_dense.keras")
            loaded = keras.models.load_model("my_dense.keras")
            assert type(loaded.layers[-1]).__name__ == "MyDense", type(loaded.layers[-1])


custom_loss = script_case(
    "custom-loss-unknown-on-load", family=_FAMILY,
    source="[tf2.0] Can not load keras saved model with customized loss function",
    url="https://github.com/tensorflow/tensorflow/issues/34140",
    fidelity="adapted",
    claim=Claim("ValueError", "Unknown loss function", where="tf.keras.models.load_model('mo.test')",
                versions="TF 2.0"),
    tags=("custom_objects", "loss", "h5", "compile"),
    doc="""
    The report's model (Dense(1) on 4 features) compiled with a custom `Loss`
    function, saved and loaded without `custom_objects`.  The report fits 5
    epochs first and saves a SavedModel directory `mo.test`; here no fit (the
    compiled loss is what gets saved) and `mo.h5`, which every version reads.  Fix (the maintainer's answer): load
    with `custom_objects={'Loss': Loss}`.
    """,
)


def _fit_and_save(tf, keras):
    K = keras.backend if hasattr(keras.backend, "mean") else keras.ops

    def Loss(y0, y):
        return K.mean(K.maximum(K.abs(y0 / (K.abs(y) + 0.1)), K.abs(y / (K.abs(y0) + 0.1))))

    InputLayer = keras.layers.Input(dtype="float32", shape=(4,))
    Output = keras.layers.Dense(1, use_bias=True, kernel_initializer="ones")(InputLayer)
    model = keras.models.Model(inputs=[InputLayer], outputs=[Output])
    model.compile(loss=Loss, optimizer=keras.optimizers.Adam())
    model.save("mo.h5")
    return Loss


@custom_loss.broken
def _(tf, keras):
    with _scratch_dir():
        _fit_and_save(tf, keras)
        keras.models.load_model("mo.h5")


@custom_loss.fixed
def _(tf, keras):
    with _scratch_dir():
        Loss = _fit_and_save(tf, keras)
        keras.models.load_model("mo.h5", custom_objects={"Loss": Loss})


unregistered_model = script_case(
    "subclassed-model-not-registered", family=_FAMILY,
    source="TypeError: Could not locate class 'keras.Model'. Make sure custom classes are decorated "
           "with `@keras.saving.register_keras_serializable()`",
    url="https://github.com/keras-team/keras/issues/21046",
    fidelity="reconstructed",
    claim=Claim("TypeError", "Could not locate class", where="keras.saving.load_model('new.keras')",
                versions="Keras 3 (March 2025, Colab)"),
    tags=("register_keras_serializable", "subclassed-model", "keras-format"),
    doc="""
    A subclassed `DummyModel` with the thread's `get_config` (name, input
    shape, filters, activation) saved to `new.keras` and loaded without the
    class being registered or passed (`keras.models.load_model`: `tf.keras` on
    TF 2.16+ has no `keras.saving`).  Fix (the error message's): decorate the
    class with `@keras.saving.register_keras_serializable()` (`keras.utils`
    where there is no `keras.saving`).  TF 2.12 does not write a subclassed model to
    `.keras` at all (it takes the HDF5 path and refuses).
    """,
)


def _dummy_model_class(keras):
    class DummyModel(keras.Model):
        def __init__(self, input_shape=(4,), filters=2, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.input_shape_ = tuple(input_shape)
            self.filters = filters
            self.activation = activation
            self.dense = keras.layers.Dense(filters, activation=activation,
                                            kernel_initializer="ones")

        def call(self, x):
            return self.dense(x)

        def get_config(self):
            return {"name": self.name, "input_shape": self.input_shape_,
                    "filters": self.filters, "activation": self.activation}

    return DummyModel


def _save_load_dummy(keras, cls):
    model = cls(name="dummy")
    x = np.ones((2, 4), "float32")
    before = np.asarray(model(x))
    model.save("new.keras")
    loaded = keras.models.load_model("new.keras")
    assert np.allclose(np.asarray(loaded(x)), before)


@unregistered_model.broken
def _(tf, keras):
    with _scratch_dir():
        _save_load_dummy(keras, _dummy_model_class(keras))


@unregistered_model.fixed
def _(tf, keras):
    with _scratch_dir():
        with _registered(keras):
            cls = _saving(keras).register_keras_serializable()(_dummy_model_class(keras))
            _save_load_dummy(keras, cls)
