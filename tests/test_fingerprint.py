"""Tests for tfcanary.fingerprint.

The fixtures in tests/resources/messages/ are real messages captured from
TF 2.15/Keras 2.15, TF 2.16/Keras 3.0.5 and TF 2.21/Keras 3.15.1: every case
was triggered twice per process (``occurrence``) in two processes (``run``),
so auto-numbered names and memory addresses differ between records of the
same case.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest

from tfcanary import fingerprint
from tfcanary.fingerprint import normalize

MESSAGES = pathlib.Path(__file__).parent / "resources" / "messages"
ENVS = ("tf2.15", "tf2.16", "tf2.21")


def _load(env: str) -> dict:
    return json.loads((MESSAGES / f"{env}.json").read_text(encoding="utf-8"))


FIXTURES = {env: _load(env) for env in ENVS}


def records(env: str, case: str) -> list:
    out = [r for r in FIXTURES[env]["records"] if r["case"] == case]
    assert out, f"no records for {case} in {env}"
    return out


def rec(env: str, case: str, run: int = 1, occurrence: int = 1) -> dict:
    (r,) = [
        r for r in records(env, case) if r["run"] == run and r["occurrence"] == occurrence
    ]
    assert r["message"] is not None, f"{case} raised nothing in {env}"
    return r


def fp(r: dict) -> str:
    return fingerprint.fingerprint(r["exc_type"], normalize(r["message"]))


def errors(env: str):
    return [r for r in FIXTURES[env]["records"] if r["exc_type"] is not None]


# --------------------------------------------------------------------------
# Fixtures are what they claim to be
# --------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_fixture_files_describe_their_origin(env):
    doc = FIXTURES[env]
    assert "real" in doc["_about"].lower()
    assert doc["tensorflow"] in doc["_about"] and doc["keras"] in doc["_about"]
    assert {r["run"] for r in doc["records"]} == {1, 2}
    assert {r["occurrence"] for r in doc["records"]} == {1, 2}


# --------------------------------------------------------------------------
# Same error -> same fingerprint (real messages)
# --------------------------------------------------------------------------

# (env, case) pairs whose raw text really differs between the two occurrences
# in one process, and what differs.
SAME_PROCESS_RENUMBERED = [
    ("tf2.15", "dense_dim_5_4"),  # layer "dense" vs "dense_1"
    ("tf2.16", "dense_dim_5_4"),
    ("tf2.21", "dense_dim_5_4"),  # layer 'dense' vs 'dense_1'
    ("tf2.15", "kt_while"),  # name='input_5' vs 'input_6' in a Keras 2 KerasTensor repr
    ("tf2.16", "kt_while"),  # name=keras_tensor_8 vs keras_tensor_9
    ("tf2.21", "kt_while"),
    ("tf2.15", "tfop_add_shapes"),  # "tf.__operators__.add" vs "tf.__operators__.add_1"
    ("tf2.15", "conditional_layer_dtype"),  # "conditional_layer" vs "conditional_layer_1"
    ("tf2.21", "conditional_layer_dtype"),
    ("tf2.16", "savedmodel_no_get_config"),  # input_layer_10 vs input_layer_11 in a config dump
    ("tf2.21", "savedmodel_no_get_config"),
    ("tf2.15", "invalid_arg_in_function"),  # [Op:__inference_g_285] vs ..._293
    ("tf2.15", "assert_in_function"),  # __inference_h_N
    ("tf2.21", "fit_target_shape_mismatch"),  # sequential_2_1/dense_8_1 vs sequential_3_1/dense_9_1
    ("tf2.16", "uint8_conv2d"),  # random initial kernel values in a tf.Variable repr
    ("tf2.21", "uint8_conv2d"),
]


@pytest.mark.parametrize("env,case", SAME_PROCESS_RENUMBERED)
def test_same_error_twice_in_one_process_has_one_fingerprint(env, case):
    first, second = rec(env, case, 1, 1), rec(env, case, 1, 2)
    assert first["message"] != second["message"], "fixture should differ in raw text"
    assert fp(first) == fp(second)


@pytest.mark.parametrize("case", ["convert_object", "convert_lambda", "kt_cond"])
def test_same_error_in_two_processes_with_different_addresses(case):
    # Object reprs carry "at 0x7f...": different in every process.
    a, b = rec("tf2.15", case, run=1), rec("tf2.15", case, run=2)
    assert re.search(r"at 0x[0-9a-f]{6,}", a["message"])
    assert a["message"] != b["message"], "fixture should differ in raw text"
    assert fp(a) == fp(b)


@pytest.mark.parametrize("env", ENVS)
def test_every_case_has_one_fingerprint_across_runs_and_occurrences(env):
    by_case: dict = {}
    raw_by_case: dict = {}
    for r in errors(env):
        by_case.setdefault(r["case"], set()).add(fp(r))
        raw_by_case.setdefault(r["case"], set()).add(r["message"])
    split = {c: f for c, f in by_case.items() if len(f) != 1}
    assert not split, f"cases with several fingerprints: {sorted(split)}"
    # The test only means something if the raw messages did vary.
    assert sum(len(m) > 1 for m in raw_by_case.values()) >= 5


# --------------------------------------------------------------------------
# Different error -> different fingerprint (real messages)
# --------------------------------------------------------------------------


def test_keras2_and_keras3_kerastensor_into_tf_cond_differ():
    k2, k3 = rec("tf2.15", "kt_cond"), rec("tf2.16", "kt_cond")
    assert k2["exc_type"] == "builtins.TypeError"
    assert k3["exc_type"] == "builtins.ValueError"
    assert fp(k2) != fp(k3)
    # Same text would still differ: the messages themselves are different.
    assert normalize(k2["message"]) != normalize(k3["message"])


def test_keras_3_0_and_3_15_kerastensor_message_differs():
    # Keras renamed `keras.operations` to `keras.ops` in the advice text.
    old, new = rec("tf2.16", "kt_cond"), rec("tf2.21", "kt_cond")
    assert old["exc_type"] == new["exc_type"]
    assert fp(old) != fp(new)


@pytest.mark.parametrize("env", ENVS)
def test_expected_dim_5_and_6_differ(env):
    five, six = rec(env, "dense_dim_5_4"), rec(env, "dense_dim_6_4")
    assert "have value 5" in normalize(five["message"])
    assert "have value 6" in normalize(six["message"])
    assert "(10, 4)" in normalize(five["message"])
    assert fp(five) != fp(six)


@pytest.mark.parametrize("env", ENVS)
def test_float32_plus_float64_and_reverse_differ(env):
    a, b = rec(env, "dtype_add_f32_f64"), rec(env, "dtype_add_f64_f32")
    assert fp(a) != fp(b)


def test_different_exception_class_same_message_differs():
    r = rec("tf2.21", "dense_dim_5_4")
    msg = normalize(r["message"])
    assert fingerprint.fingerprint("builtins.ValueError", msg) != fingerprint.fingerprint(
        "builtins.TypeError", msg
    )


@pytest.mark.parametrize("env", ENVS)
def test_distinct_cases_get_distinct_fingerprints(env):
    by_fp: dict = {}
    for r in errors(env):
        by_fp.setdefault(fp(r), set()).add(r["case"])
    merged = sorted(tuple(sorted(c)) for c in by_fp.values() if len(c) > 1)
    # Keras 3 really raises the identical message for a KerasTensor passed to
    # tf.cond and to tf.Variable; nothing else may collapse.
    expected = [] if env == "tf2.15" else [("kt_cond", "kt_variable")]
    assert merged == expected


def test_version_changes_between_tf_releases_are_visible():
    # Keras 3.15 added "with name 'None'" to the input-spec message.
    assert fp(rec("tf2.16", "dense_dim_5_4")) != fp(rec("tf2.21", "dense_dim_5_4"))
    # ...while some TF-core messages are unchanged across 2.15 -> 2.21.
    assert fp(rec("tf2.15", "split_uneven")) == fp(rec("tf2.21", "split_uneven"))
    assert fp(rec("tf2.15", "dtype_add_f32_f64")) == fp(rec("tf2.21", "dtype_add_f32_f64"))


# --------------------------------------------------------------------------
# Rules, one by one
# --------------------------------------------------------------------------


def test_ansi_codes_stripped():
    # Keras 3 wraps the inner message in bold (real: tf2.16 py_if_keras_input).
    raw = rec("tf2.16", "py_if_keras_input")["message"]
    assert "\x1b[1m" in raw
    out = normalize(raw)
    assert "\x1b" not in out and "[1m" not in out and "[0m" not in out
    assert normalize("\x1b[1;31mboom\x1b[0m") == normalize("boom")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("<__main__.Foo object at 0x7fc331ae84a0>", "<__main__.Foo object at 0x?>"),
        (
            "<function <lambda>.<locals>.<lambda> at 0x7fc331ae84a0>",
            "<function <lambda>.<locals>.<lambda> at 0x?>",
        ),
        ("mask 0xff", "mask 0xff"),  # a short hex literal is a value, kept
    ],
)
def test_memory_addresses(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw,expected",
    [
        (
            'File "/tmp/exp/tf221/lib/python3.11/site-packages/keras/src/trainers/trainer.py", line 419',
            'File "<site-packages>/keras/src/trainers/trainer.py", line N',
        ),
        (
            "/usr/lib/python3/dist-packages/tensorflow/python/ops/array_ops.py",
            "<site-packages>/tensorflow/python/ops/array_ops.py",
        ),
        ('File "/home/ci/cases/my_layer.py", line 12, in call', 'File "<path>/my_layer.py", line N, in call'),
        ("saved to /tmp/tmpk2j3abc/model.keras", "saved to <path>/model.keras"),
        ("directory /tmp/tmpk2j3abc/assets does not exist", "directory <path> does not exist"),
        (r"C:\Users\ci\venv\Lib\site-packages\keras\src\x.py", r"<site-packages>/keras\src\x.py"),
        (r"C:\Users\ci\cases\my_layer.py", "<path>/my_layer.py"),
    ],
)
def test_paths(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "tf.keras.layers.Dense",
        "keras.src.engine.keras_tensor.KerasTensor",
        "variable path='dense/kernel'",
        "(x, Reshape/shape) with input shapes: [5], [1]",
        "See https://github.com/tensorflow/tensorflow/blob/master/tensorflow/python/autograph/g3doc/reference/limitations.md#access-to-source-code for more",
        "input/output",
        "x / y",
        "under /tmp only",
        "shape=(None, 3)",
    ],
)
def test_paths_rule_leaves_non_paths_alone(text):
    assert normalize(text) == text


def test_line_numbers_in_embedded_tracebacks_dropped():
    a = 'in user code:\n\n    File "/a/b/training.py", line 1401, in train_function  *\n'
    b = 'in user code:\n\n    File "/c/d/training.py", line 1399, in train_function  *\n'
    assert normalize(a) == normalize(b)
    assert normalize(a) == 'in user code:\nFile "<path>/training.py", line N, in train_function *'
    # A different function or file is a different frame.
    c = a.replace("train_function", "test_function")
    assert normalize(a) != normalize(c)
    # "line 5" outside a traceback frame is left alone.
    assert normalize("error on line 5") == "error on line 5"


def test_function_node_and_node_names():
    raw = rec("tf2.21", "split_uneven")["message"]
    assert "device:CPU:0" in raw
    assert normalize(raw).startswith("{{function_node}} Number of ways to split")
    gpu = raw.replace("device:CPU:0", "device:GPU:0")
    assert normalize(gpu) == normalize(raw)
    assert (
        normalize("[[{{node model_3/dense_7/MatMul}}]] [Op:__inference_train_function_1213]")
        == "[[{{node}}]] [Op:__inference_train_function]"
    )


@pytest.mark.parametrize(
    "raw,expected",
    [
        ('layer "dense_7"', 'layer "dense"'),
        ('layer "dense"', 'layer "dense"'),
        ("name='input_11'", "name='input'"),
        ("name=keras_tensor_36>", "name=keras_tensor>"),
        ('layer "conditional_layer_2"', 'layer "conditional_layer"'),
        ('layer "tf.__operators__.add_3"', 'layer "tf.__operators__.add"'),
        ("sequential_2_1/dense_8_1/BiasAdd", "sequential/dense/BiasAdd"),
        ("'conv2d_1/kernel:0'", "'conv2d/kernel:0'"),
        ("dense_1_input", "dense_input"),
        ("(Placeholder, Placeholder_1)", "(Placeholder, Placeholder)"),
    ],
)
def test_auto_numbered_names(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "expected axis -1 of input shape to have value 5, but received input with shape (10, 4)",
        "KerasTensor(type_spec=TensorSpec(shape=(None, 3), dtype=tf.float32))",
        "dtype=float32",
        "dtype=float64",
        "int8 uint8 bfloat16 float8_e4m3fn complex64",
        "conv2d conv1d_transpose",
        "strided_slice:0 IteratorGetNext:1",
        "size 1_000_000",
        "compiled for sm_80 and compute_90",
        "needs cuda_12.3",
        "input[1] = [3]",
        "split_dim 0 (size = 5) and num_split 2",
        "Label values: 7 7 7",
        "deadline of 60000 ms exceeded",  # a configured timeout is meaningful
    ],
)
def test_meaningful_tokens_kept(text):
    assert normalize(text) == text


def test_float32_and_float64_differ_after_normalization():
    assert normalize("dtype=float32") != normalize("dtype=float64")
    assert normalize("shape=(None, 3)") != normalize("shape=(None, 4)")


def test_variable_values_dropped_but_name_shape_dtype_kept():
    raw = rec("tf2.21", "uint8_conv2d")["message"]
    assert "numpy=" in raw
    out = normalize(raw)
    assert "numpy=" not in out
    assert "<tf.Variable 'conv2d/kernel:0' shape=(3, 3, 3, 2) dtype=float32>" in out
    assert "type uint8" in out


def test_whitespace_and_line_endings():
    assert normalize("a  \t b\r\n\r\n\n   c  ") == "a b\nc"
    assert normalize(None) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize("env", ENVS)
def test_normalize_is_idempotent_on_real_messages(env):
    for r in errors(env):
        once = normalize(r["message"])
        assert normalize(once) == once, r["case"]


# --------------------------------------------------------------------------
# Fingerprint and versioning
# --------------------------------------------------------------------------


def test_fingerprint_shape():
    f = fingerprint.fingerprint("builtins.ValueError", "x")
    assert re.fullmatch(r"[0-9a-f]{12}", f)


def test_normalizer_version_is_part_of_fingerprint(monkeypatch):
    before = fingerprint.fingerprint("builtins.ValueError", "x")
    monkeypatch.setattr(fingerprint, "NORMALIZER_VERSION", fingerprint.NORMALIZER_VERSION + 1)
    assert fingerprint.fingerprint("builtins.ValueError", "x") != before


def test_normalizer_version():
    assert fingerprint.NORMALIZER_VERSION == 3


# If this fails, normalize() now gives different text for real messages:
# bump NORMALIZER_VERSION and update these pins.
PINNED = {
    ("tf2.15", "kt_variable"): (
        "You are passing KerasTensor(type_spec=TensorSpec(shape=(None, 3), dtype=tf.float32, "
        "name='input'), name='input', description=\"created by layer 'input'\"), an intermediate"
    ),
    ("tf2.21", "kt_while"): (
        "Could not build a TypeSpec for <KerasTensor shape=(None, 3), dtype=float32, sparse=False, "
        "ragged=False, name=keras_tensor> of unsupported type "
        "<class 'keras.src.backend.common.keras_tensor.KerasTensor'>."
    ),
    ("tf2.15", "numpy_in_graph"): (
        'in user code:\nFile "<path>/collect.py", line N, in f *\nreturn x.numpy()\n'
        "AttributeError: 'SymbolicTensor' object has no attribute 'numpy'"
    ),
}


@pytest.mark.parametrize("key", sorted(PINNED))
def test_pinned_normalized_text(key):
    env, case = key
    out = normalize(rec(env, case)["message"])
    assert out.startswith(PINNED[key])


def test_defined_at_stack_frames_do_not_change_the_fingerprint():
    """Who called the graph (Keras 2 train_function vs Keras 3 multi_step_on_iterator)
    is not part of the error: the node and the message are."""
    k2 = ('Graph execution error:\n\nDetected at node GatherV2 defined at (most recent call last):\n'
          '  File "/x/site-packages/keras/src/engine/training.py", line 1401, in train_function\n\n'
          '  File "/repo/cases/a.py", line 20, in call\n\n'
          'indices[0] = 7 is not in [0, 3)\n\t [[{{node GatherV2}}]] [Op:__inference_train_function_226]')
    k3 = ('Graph execution error:\n\nDetected at node GatherV2 defined at (most recent call last):\n'
          '  File "/y/site-packages/keras/src/backend/tensorflow/trainer.py", line 128, in multi_step_on_iterator\n\n'
          '  File "/repo/cases/a.py", line 20, in call\n\n'
          'indices[0] = 7 is not in [0, 3)\n\t [[{{node GatherV2}}]] [Op:__inference_train_function_9]')
    assert normalize(k2) == normalize(k3)
    assert "indices[0] = 7 is not in [0, 3)" in normalize(k2)
    other = k3.replace("is not in [0, 3)", "is not in [0, 4)")
    assert normalize(other) != normalize(k3)


def test_autograph_module_names_and_object_ids_are_per_process_noise():
    a = ('in user code:\n  File "/tmp/__autograph_generated_filekmw1d_lq.py", line 10, in tf__call\n'
         "ValueError: FuncGraph(name=call, id=139967886104544) cannot capture")
    b = ('in user code:\n  File "/tmp/__autograph_generated_file3x9qa0zz.py", line 12, in tf__call\n'
         "ValueError: FuncGraph(name=call, id=140211230912208) cannot capture")
    assert normalize(a) == normalize(b)
    assert normalize(a) != normalize(b.replace("name=call", "name=train"))
    assert "id=7" in normalize("shape id=7")  # short ids are not object addresses


def test_library_and_probe_frames_in_user_code_traces_are_dropped():
    """Keras moved traceback_utils from keras/utils/ to keras/src/utils/ between 2.12 and 2.15:
    that refactoring is not a change of the error.  The user's own frame stays."""
    def msg(keras_dir):
        return ('in user code:\n\n'
                '    File "/work/src/tfcanary/_worker.py", line 96, in None  *\n        lambda t: layer(t)\n'
                f'    File "/env/lib/python3.11/site-packages/{keras_dir}/traceback_utils.py", line 70, '
                'in error_handler  **\n        raise e.with_traceback(filtered_tb) from None\n'
                '    File "/work/cases/control_flow.py", line 88, in call\n        if tf.reduce_any(inputs < 0):\n\n'
                "    OperatorNotAllowedInGraphError: Using a symbolic `tf.Tensor` as a Python `bool` is not allowed.")
    a, b = normalize(msg("keras/utils")), normalize(msg("keras/src/utils"))
    assert a == b
    assert "control_flow.py" in a and "if tf.reduce_any(inputs < 0):" in a
    assert "_worker.py" not in a and "traceback_utils" not in a and "layer(t)" not in a


def test_a_frame_without_source_line_takes_no_other_frame_with_it():
    """TensorFlow's "was defined here:" lists frames without source lines.  Dropping a library
    or engine frame there must not drop the user's frame after it, whatever the number of
    engine frames before (version 2 dropped every second line)."""
    def msg(engine_frames):
        engine = "".join(f'        File "/c/engine/tfcanary/_engine/modes.py", line {100 + i}, in run\n'
                         for i in range(engine_frames))
        return ("in user code:\n    <tf.Tensor 'x:0'> was defined here:\n" + engine
                + '        File "/env/lib/python3.11/site-packages/keras/src/engine/base_layer.py", line 1149, in __call__\n'
                + '        File "/work/cases/control_flow.py", line 119, in call\n'
                + '        File "/work/cases/control_flow.py", line 120, in call\n\n'
                + "    The tensor cannot be accessed here.")
    outs = {normalize(msg(n)) for n in (7, 8, 11)}
    assert len(outs) == 1
    [out] = outs
    assert out.count('File "<path>/control_flow.py", line N, in call') == 2
    assert "_engine" not in out and "base_layer" not in out


def test_the_placeholders_results_write_for_the_users_folders_normalize_like_the_paths():
    """Results rewrite the working directory to ./, the cache to $TFCANARY_CACHE and the home
    folder to ~ when they are written: a fingerprint recomputed from the message kept there
    is the one the engine computed from the message as raised."""
    raw = ('in user code:\n\n    File "/home/u/.cache/tfcanary/engine/ab/tfcanary/_engine/modes.py", line 126, '
           'in None  *\n        lambda t: layer(t)\n'
           '    File "/home/u/proj/.venv/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py", '
           'line 70, in error_handler  **\n        raise e\n'
           '    File "/home/u/proj/cases/mine.py", line 9, in call\n        return tf.foo(x)\n\n'
           "    ValueError: cannot read /home/u/proj/data/weights.h5 nor /home/u/notes/model.keras")
    written = (raw.replace("/home/u/.cache/tfcanary", "$TFCANARY_CACHE").replace("/home/u/proj", ".")
               .replace("/home/u", "~"))
    assert written != raw
    assert normalize(written) == normalize(raw)
    assert "<path>/mine.py" in normalize(raw) and "<path>/weights.h5" in normalize(raw)
    assert normalize("see ../x/y.py") == "see ../x/y.py"          # a relative path of the message's own


def test_keras3_shared_object_ids_in_deserialization_errors_are_dropped():
    """Keras 3.15 prints the failed config, whose shared_object_id is id() of the saved object."""
    template = ("Could not deserialize class 'Functional' because its parent module keras.src.models."
                "functional cannot be imported. Full object config: {'module': 'keras.src.models."
                "functional', 'config': {'layers': [], 'shared_object_id': %d}}")
    a, b = template % 140218723401232, template % 139967886104544
    assert fingerprint.normalize(a) == fingerprint.normalize(b)
    assert "'shared_object_id': ?" in fingerprint.normalize(a)
    assert (fingerprint.fingerprint("TypeError", fingerprint.normalize(a))
            == fingerprint.fingerprint("TypeError", fingerprint.normalize(b)))
