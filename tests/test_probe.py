"""The probe in a real TensorFlow environment: crashes, hangs and bad cases are data."""

import json
import os
import subprocess

import pytest

from conftest import RESOURCES, ROOT, engine, venv_python



@pytest.fixture(scope="module")
def faults(probed, tmp_path_factory):
    out = tmp_path_factory.mktemp("faults") / "faults.json"
    proc = subprocess.run(
        engine(str(venv_python("tf2.15")), "probe", "--cases", str(RESOURCES / "corpus_faults"),
         "--cases", str(RESOURCES / "corpus_small"), "--label", "tf2.15", "--out", str(out),
         "--timeout", "8"),
        capture_output=True, text=True, cwd=ROOT)
    # faults.py holds a corpus error: the probe says so with its exit status.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "corpus error: faults.py:46:" in proc.stderr
    return json.loads(out.read_text())


def _by_key(doc):
    return {(o["case"], o["variant"], o["mode"]): o for o in doc["outcomes"]}


@pytest.mark.e2e
def test_segfault_and_abort_are_crashes_with_the_signal(faults):
    o = _by_key(faults)
    seg = o[("fault-segfault", "broken", "script")]
    assert seg["status"] == "crash" and "SIGSEGV" in seg["reason"]
    abort = o[("fault-abort", "broken", "script")]
    assert abort["status"] == "crash" and "SIGABRT" in abort["reason"]


@pytest.mark.e2e
def test_a_hang_is_a_timeout(faults):
    hang = _by_key(faults)[("fault-hang", "broken", "script")]
    assert hang["status"] == "timeout" and "8 s" in hang["reason"]


@pytest.mark.e2e
def test_cases_after_the_faults_still_run(faults):
    o = _by_key(faults)
    assert o[("fault-after", "broken", "eager")]["status"] == "ok"
    assert o[("small-python-if", "fixed", "graph")]["status"] == "ok"
    assert faults["timing"]["worker_restarts"] == 3


@pytest.mark.e2e
def test_a_wrong_return_type_is_a_corpus_error_naming_file_and_line(faults):
    errs = faults["corpus_errors"]
    assert len(errs) == 1
    assert errs[0]["file"] == "faults.py" and errs[0]["line"] == 46  # relative to its corpus folder
    assert "returned tuple; expected tfcanary.case.Built" in errs[0]["message"]
    assert _by_key(faults)[("fault-wrong-return", "broken", "eager")]["status"] == "skip"


@pytest.mark.e2e
def test_errors_carry_class_fingerprint_and_the_users_frame(faults):
    o = _by_key(faults)[("small-python-if", "broken", "graph-noautograph")]
    assert o["status"] == "error"
    assert o["exc_type"].endswith("OperatorNotAllowedInGraphError")
    assert len(o["fingerprint"]) == 12
    assert o["frame"].startswith("small.py:") and o["frame"].endswith(" in call")


@pytest.mark.e2e
def test_case_files_are_recorded_relative_to_their_corpus_folder(faults):
    assert {c["file"] for c in faults["cases"]} == {"faults.py", "small.py"}
    assert str(ROOT) not in json.dumps(faults["cases"]) + json.dumps(faults["outcomes"])


@pytest.mark.e2e
def test_tensorflow_log_noise_stays_out_of_results(faults):
    text = json.dumps(faults["outcomes"])
    for noise in ("oneDNN", "I0000 ", "cpu_feature_guard", "W0000 "):
        assert noise not in text


def test_an_environment_without_tensorflow_is_probe_failed_with_the_reason(tmp_path):
    """This interpreter has no TensorFlow: the worker cannot start, and the results say so."""
    import sys

    out = tmp_path / "r.json"
    proc = subprocess.run(
        engine(sys.executable, "probe", "--cases", str(RESOURCES / "corpus_small"), "--label", "tf2.15",
         "--out", str(out), "--startup-timeout", "60"),
        capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["status"] == "probe-failed"
    assert "No module named 'tensorflow'" in doc["message"]
    assert {o["status"] for o in doc["outcomes"]} == {"crash"}
    assert all("worker could not start" in o["reason"] for o in doc["outcomes"])


def _import_faults_probe(python, tmp_path, *extra):
    out = tmp_path / "r.json"
    proc = subprocess.run(
        engine(str(python), "probe", "--cases", str(RESOURCES / "corpus_import_faults"), "--label", "tf2.15",
               "--out", str(out), "--timeout", "60", *extra),
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "TFCANARY_IMPORT_TIMEOUT": "3"})
    return proc, out


def _assert_import_faults_are_corpus_errors(proc, doc):
    assert proc.returncode == 1, proc.stderr
    errors = {e["file"]: e for e in doc["corpus_errors"]}
    assert sorted(errors) == ["b_hangs.py", "c_exits.py", "d_interrupts.py", "e_base.py", "f_aborts.py",
                              "g_newline_id.py"]
    assert errors["b_hangs.py"]["line"] == 5 and "did not finish importing" in errors["b_hangs.py"]["message"]
    assert errors["c_exits.py"]["line"] == 4 and "os._exit(0)" in errors["c_exits.py"]["message"]
    assert [c["id"] for c in doc["cases"]] == ["still-listed", "after-the-faults"]
    assert "corpus error: c_exits.py:4:" in proc.stderr


def test_the_probe_plans_around_case_modules_that_hang_or_end_the_process_at_import(tmp_path):
    """This interpreter has no TensorFlow, so no item runs; the plan and its corpus errors are
    the probe's own, made before any worker starts."""
    import sys

    proc, out = _import_faults_probe(sys.executable, tmp_path, "--startup-timeout", "60")
    doc = json.loads(out.read_text())
    _assert_import_faults_are_corpus_errors(proc, doc)
    assert [(o["case"], o["status"]) for o in doc["outcomes"]] == [("still-listed", "crash"),
                                                                    ("after-the-faults", "crash")]


@pytest.mark.e2e
def test_in_a_real_environment_the_cases_beside_misbehaving_modules_still_run(tf215, tmp_path):
    proc, out = _import_faults_probe(tf215, tmp_path)
    doc = json.loads(out.read_text())
    _assert_import_faults_are_corpus_errors(proc, doc)
    assert doc["status"] == "ok"
    by_case = {o["case"]: o for o in doc["outcomes"]}
    assert by_case["still-listed"]["status"] == "error" and by_case["still-listed"]["exc_type"].endswith("ValueError")
    assert by_case["after-the-faults"]["status"] == "ok"
    assert doc["timing"]["worker_restarts"] == 0   # the workers imported only the modules that load
