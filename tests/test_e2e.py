"""End to end: two real environments built by the noxfile, the whole corpus probed.

The assertions are facts about TensorFlow/Keras that hold in reality; each
would fail if the probe misdrove a mode or recorded the wrong thing.
"""

import subprocess
import sys

import pytest

from tfcanary import results, store

from conftest import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def frame(probed):
    return store.load_outcomes([probed["dir"]])


def _one(frame, env, case, variant, mode):
    rows = frame[(frame["env"] == env) & (frame["case"] == case) & (frame["variant"] == variant)
                 & (frame["mode"] == mode)]
    assert len(rows) == 1, (env, case, variant, mode)
    return rows.iloc[0]


def test_both_environments_are_what_they_claim(probed):
    k2 = results.read(probed["files"]["tf2.15"])
    k3 = results.read(probed["files"]["tf2.21"])
    assert k2["status"] == k3["status"] == "ok"
    assert k2["metadata"]["tensorflow"].startswith("2.15.")
    assert k2["metadata"]["keras"].startswith("2.15.")
    assert k3["metadata"]["tensorflow"].startswith("2.21.")
    assert k3["metadata"]["keras"].startswith("3.")
    for doc in (k2, k3):
        assert any(line.startswith("tensorflow-cpu==") for line in doc["metadata"]["pip_freeze"])
        assert doc["metadata"]["devices"] and doc["metadata"]["cpu"]
        assert doc["corpus_errors"] == []


def test_python_if_is_fine_symbolically_on_keras2_and_not_on_keras3(frame):
    k2 = _one(frame, "tf2.15", "python-if-on-tensor", "broken", "symbolic")
    assert k2.status == "ok"
    k3 = _one(frame, "tf2.21", "python-if-on-tensor", "broken", "symbolic")
    assert k3.status == "error" and k3.short_type == "OperatorNotAllowedInGraphError"


def test_python_bool_without_autograph_fails_in_every_version(frame):
    for env in ("tf2.15", "tf2.21"):
        o = _one(frame, env, "python-if-on-tensor", "broken", "graph-noautograph")
        assert o.status == "error"
        assert "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed" in o.message


def test_keras_tensor_into_tf_cond_has_the_famous_messages(frame):
    k2 = _one(frame, "tf2.15", "keras-tensor-tf-cond", "broken", "script")
    k3 = _one(frame, "tf2.21", "keras-tensor-tf-cond", "broken", "script")
    assert k2.status == k3.status == "error"
    assert "KerasTensor" in k2.message
    assert "A KerasTensor cannot be used as input to a TensorFlow function" in k3.message
    assert k2.fingerprint != k3.fingerprint


def test_every_fixed_variant_of_the_seed_scenarios_is_ok_wherever_a_mode_applies(frame, probed):
    # Cases cited by URL record their report's fix as data: some fixes exist on one Keras
    # major only (keras.ops, LossScaleOptimizer.scale_loss) and fail on the other, which the
    # upgrade report counts.  The seed scenarios' repairs must work everywhere.
    cited = {c["id"] for f in probed["files"].values() for c in results.read(f)["cases"] if c.get("url")}
    fixed = frame[(frame.variant == "fixed") & ~frame.case.isin(cited)]
    assert len(fixed) > 100
    bad = fixed[~fixed.status.isin(["ok", "skip"])]
    assert bad.empty, bad[["env", "case", "mode", "status", "short_type", "message"]].to_string()
    skips = frame[(frame.variant == "fixed") & (frame.status == "skip")]
    assert not skips.reason.str.startswith("corpus error").any()


def test_every_broken_keras_tensor_case_fails_on_both_flavours(frame):
    kt = frame[(frame.family == "keras-tensor-tf-api") & (frame.variant == "broken")]
    assert len(kt) >= 2 * 6
    assert set(kt.status) == {"error"}, kt[["env", "case", "status"]].to_string()


def test_summary_counts_each_status_per_environment(probed):
    out = subprocess.run([sys.executable, "-m", "tfcanary", "summary", str(probed["dir"])],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = {l.split()[0]: l.split() for l in out.stdout.splitlines()[2:]}
    assert set(lines) == {"tf2.15", "tf2.21"}
    frame = store.load_outcomes([probed["dir"]])
    for env, cols in lines.items():
        ok = int(cols[4])
        assert ok == int(((frame.env == env) & (frame.status == "ok")).sum())
