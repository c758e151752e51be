"""A team's own pytest suite through the engine, with this interpreter: one outcome per test.

tests/resources/suite_plain is a small suite of a package of its own that needs no
TensorFlow (the suite's worker runs without its hermetic reset when TensorFlow does not
import): passing, failing and erroring tests (setup, teardown), xfail and xpass, skips,
parametrized ids, a unittest.TestCase, session and module fixtures, a module that does not
collect, a test that aborts the interpreter and one that hangs.  What tfcanary records is
compared with plain ``python -m pytest`` run on the same suite here; the real TensorFlow
runs are in test_suite_e2e.py.
"""

import json
import shutil
import subprocess
import sys

import pytest

import _plain_pytest
from conftest import RESOURCES, engine
from tfcanary._engine.suite_worker import matches

SUITE = RESOURCES / "suite_plain"
FAULTS = ["tests/test_faults.py::test_aborts", "tests/test_faults.py::test_hangs"]


def _suite(cwd, out, *extra, progress=False):
    return subprocess.run(engine(sys.executable, "suite", "--pytest", "tests", "--label", "tf2.15",
                                 "--out", out, "--timeout", "8", *([] if progress else ["--no-progress"]),
                                 *extra),
                          cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    work = tmp_path_factory.mktemp("suite")
    proj = work / "proj"
    shutil.copytree(SUITE, proj)
    out = work / "results" / "tf2.15.json"
    proc = _suite(proj, out, progress=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plain, plain_proc = _plain_pytest.run(sys.executable, proj,
                                          ["tests", *[f"--deselect={f}" for f in FAULTS]])
    return {"doc": json.loads(out.read_text()), "proc": proc, "plain": plain, "proj": proj, "out": out,
            "plain_log": plain_proc.stdout}


def _by_case(doc):
    return {o["case"]: o for o in doc["outcomes"]}


def test_every_test_is_recorded_as_plain_pytest_reports_it(ran):
    mine = _plain_pytest.recorded(ran["doc"])
    for fault in FAULTS:
        mine.pop(fault)
    plain = ran["plain"]
    assert len(plain) >= 15, ran["plain_log"][-3000:]
    assert mine == plain


def test_what_a_test_records(ran):
    o = _by_case(ran["doc"])
    assert o["tests/test_basic.py::test_passes"]["status"] == "ok"
    failed = o["tests/test_basic.py::test_assertion_fails"]
    assert (failed["status"], failed["exc_type"], failed["phase"]) == ("error", "AssertionError", "call")
    assert failed["frame"] == "tests/test_basic.py:23 in test_assertion_fails"
    assert len(failed["fingerprint"]) == 12 and "assert 3 == 4" in failed["normalized"]
    setup = o["tests/test_basic.py::test_setup_error"]
    assert (setup["exc_type"], setup["phase"]) == ("RuntimeError", "setup")
    teardown = o["tests/test_basic.py::test_teardown_error"]
    assert (teardown["exc_type"], teardown["phase"]) == ("KeyError", "teardown")
    # The package's own exception, module-qualified, raised in the package: the frame is there.
    own = o["tests/test_basic.py::TestWithUnittest::test_raises_the_packages_error"]
    assert own["exc_type"] == "mylib.ShapeError" and own["frame"] == "mylib/__init__.py:10 in check_shape"
    param = o["tests/test_basic.py::test_shapes[1d/list]"]
    assert param["status"] == "error" and param["exc_type"] == "mylib.ShapeError"
    skipped = o["tests/test_basic.py::test_skipped"]
    assert (skipped["status"], skipped["reason"]) == ("skip", "not written yet")


def test_xfail_and_xpass_are_kept_apart_from_plain_failures_and_passes(ran):
    o = _by_case(ran["doc"])
    xfail = o["tests/test_basic.py::test_expected_failure"]
    assert (xfail["status"], xfail["exc_type"], xfail["xfail"]) == (
        "error", "mylib.ShapeError", "1-D shapes are not supported yet")
    xpass = o["tests/test_basic.py::test_unexpected_pass"]
    assert (xpass["status"], xpass["xfail"]) == ("ok", "thought to fail")
    assert "xfail" not in o["tests/test_basic.py::test_passes"]


def test_a_module_that_does_not_collect_is_an_outcome_not_a_failed_run(ran):
    o = _by_case(ran["doc"])
    module = o["tests/test_needs_a_missing_module.py"]
    assert (module["mode"], module["status"], module["exc_type"], module["phase"]) == (
        "collect", "error", "ModuleNotFoundError", "collect")
    assert "tfcanary_suite_plain_missing_dependency" in module["message"]
    assert module["frame"] == "tests/test_needs_a_missing_module.py:1 in <module>"
    assert ran["doc"]["status"] == "ok"


def test_an_abort_is_a_crash_a_hang_a_timeout_and_the_rest_still_runs(ran):
    o = _by_case(ran["doc"])
    assert o[FAULTS[0]]["status"] == "crash" and "SIGABRT" in o[FAULTS[0]]["reason"]
    assert o[FAULTS[1]]["status"] == "timeout" and "8 s" in o[FAULTS[1]]["reason"]
    assert o["tests/test_faults.py::test_after_the_faults"]["status"] == "ok"
    # the workers that took over shared their fixtures again: still one set-up per worker
    assert o["tests/test_basic.py::test_fixtures_are_set_up_once"]["status"] == "ok"
    assert ran["doc"]["timing"]["worker_restarts"] == 2


def test_the_results_say_how_the_suite_ran(ran):
    doc = ran["doc"]
    assert doc["pytest"]["paths"] == ["tests"] and doc["pytest"]["reset"] is True
    assert doc["pytest"]["version"] == pytest.__version__
    assert doc["runs"][0]["kind"] == "pytest"
    cases = {c["id"]: c for c in doc["cases"]}
    assert cases["tests/test_basic.py::test_passes"]["family"] == "tests/test_basic.py"
    assert cases["tests/test_needs_a_missing_module.py"]["kind"] == "test-module"
    assert str(ran["proj"]) not in json.dumps(doc["outcomes"])


def test_progress_is_shown_on_stderr_as_plain_lines_off_a_terminal(ran):
    err = ran["proc"].stderr
    assert "crash: tests/test_faults.py::test_aborts" in err
    assert "timeout: tests/test_faults.py::test_hangs" in err
    assert [line for line in err.splitlines() if line.endswith("] done")], err[-2000:]


def test_select_reruns_some_tests_and_keeps_the_others(ran, tmp_path):
    out = tmp_path / "tf2.15.json"
    shutil.copy(ran["out"], out)
    proc = _suite(ran["proj"], out, "--select", "tests/test_basic.py::test_shapes",
                  "--select", "unexpected or skipped")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert [r["id"] for r in doc["runs"]] == [1, 2]
    second = {o["case"] for o in doc["outcomes"] if o["run"] == 2}
    assert second == {"tests/test_basic.py::test_shapes[2d]", "tests/test_basic.py::test_shapes[3d]",
                      "tests/test_basic.py::test_shapes[1d/list]", "tests/test_basic.py::test_unexpected_pass",
                      "tests/test_basic.py::test_skipped", "tests/test_needs_a_missing_module.py"}
    assert len(doc["outcomes"]) == len(ran["doc"]["outcomes"])
    assert _by_case(doc)[FAULTS[0]]["status"] == "crash"        # kept from the first run


def test_a_selection_matching_no_test_is_exit_2_and_leaves_the_results_alone(ran, tmp_path):
    out = tmp_path / "tf2.15.json"
    shutil.copy(ran["out"], out)
    before = out.read_bytes()
    proc = _suite(ran["proj"], out, "--select", "tests/test_basic.py::test_passes", "--select",
                  "tests/test_basic.py::no_such_test")
    assert proc.returncode == 2
    assert "'tests/test_basic.py::no_such_test', which match nothing" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.read_bytes() == before


def test_select_refuses_to_merge_results_of_other_package_versions(ran, tmp_path):
    out = tmp_path / "tf2.15.json"
    doc = json.loads(ran["out"].read_text())
    doc["metadata"]["pip_freeze"] = [*doc["metadata"]["pip_freeze"], "no-such-package==1.0"]
    out.write_text(json.dumps(doc))
    before = out.read_bytes()
    proc = _suite(ran["proj"], out, "--select", "tests/test_basic.py::test_passes")
    assert proc.returncode == 2
    assert "holds outcomes run with other package versions (no-such-package 1.0 -> (none))" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize("pattern, nodeid, selected", [
    ("tests/test_a.py::test_x[1-2]", "tests/test_a.py::test_x[1-2]", True),     # brackets are not a glob
    ("tests/test_a.py", "tests/test_a.py::TestC::test_x", True),
    ("tests/test_a.py::TestC", "tests/test_a.py::TestC::test_x", True),
    ("tests/test_a.py::TestC", "tests/test_a.py::TestCD::test_x", False),
    ("tests/test_a.py::test_x", "tests/test_a.py::test_x[float32]", True),
    ("tests/test_a.py::test_x", "tests/test_a.py::test_xy", False),
    ("tests", "tests/sub/test_b.py::test_y", True),
    ("tests/test_a.py", "tests/test_ab.py::test_x", False),
    ("tests/*_a.py::*", "tests/test_a.py::test_x", True),
    ("x[", "tests/test_a.py::test_x[1]", True),               # no keywords given: a substring
])
def test_select_patterns(pattern, nodeid, selected):
    assert matches(pattern, nodeid) is selected


def test_select_uses_pytests_own_keyword_matching_when_given():
    assert matches("dense and not slow", "t.py::test_dense", keywords=lambda e: e == "dense and not slow")
    assert not matches("dense and not slow", "t.py::test_dense", keywords=lambda e: False)
