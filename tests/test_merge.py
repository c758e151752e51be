"""--select runs merge into results files; a bad selection or changed versions leave them alone."""

import json
import subprocess
import sys

import pytest

from conftest import RESOURCES, engine
from tfcanary import results
from tfcanary.outcome import Outcome



def _o(case, mode, status="ok", run=None, **kw):
    d = {"case": case, "variant": "broken", "mode": mode, "status": status, "duration_s": 0.1, **kw}
    if run is not None:
        d["run"] = run
    return d


def _doc(outcomes, cases, runs=None, date="2026-01-01T00:00:00+00:00", **kw):
    d = {"label": "tf2.15", "status": "ok", "env": {}, "metadata": {"date": date, "pip_freeze": ["tensorflow-cpu==2.15.1"]},
         "timing": {}, "cases": [{"id": c} for c in cases], "corpus_errors": [], "outcomes": outcomes}
    if runs is not None:
        d["runs"] = runs
    d.update(kw)
    return d


def test_merge_replaces_the_selected_cases_and_keeps_the_rest_with_their_run():
    old = _doc([_o("a", "eager", run=1), _o("b", "eager", "error", run=1), _o("c", "eager", run=1)],
               ["a", "b", "c"], runs=[{"id": 1, "date": "d1", "select": []}])
    new = _doc([_o("b", "eager", "ok", run=1)], ["b"], runs=[{"id": 1, "date": "d2", "select": ["b"]}],
               date="2026-02-02T00:00:00+00:00")
    order = [["a", "broken", "eager"], ["b", "broken", "eager"], ["c", "broken", "eager"]]
    merged = results.merge(old, new, ["b"], order)
    assert [(o["case"], o["status"], o["run"]) for o in merged["outcomes"]] == [
        ("a", "ok", 1), ("b", "ok", 2), ("c", "ok", 1)]
    assert merged["runs"] == [{"id": 1, "date": "d1", "select": []}, {"id": 2, "date": "d2", "select": ["b"]}]
    assert [c["id"] for c in merged["cases"]] == ["a", "b", "c"]
    assert merged["metadata"]["date"] == "2026-02-02T00:00:00+00:00"  # the latest run's


def test_merge_drops_modes_a_selected_case_no_longer_has_and_keeps_removed_cases_last():
    old = _doc([_o("gone", "eager", run=1), _o("a", "eager", run=1), _o("a", "xla", run=1)],
               ["gone", "a"], runs=[{"id": 1}])
    new = _doc([_o("a", "eager", "error", run=1)], ["a"], runs=[{"id": 1}])
    merged = results.merge(old, new, ["a"], [["a", "broken", "eager"]])
    assert [(o["case"], o["mode"], o["status"]) for o in merged["outcomes"]] == [
        ("a", "eager", "error"), ("gone", "eager", "ok")]


def test_schema_1_files_are_migrated_to_one_run(tmp_path):
    p = tmp_path / "tf2.15.json"
    doc = _doc([_o("a", "eager")], ["a"])
    doc["schema"] = 1
    p.write_text(json.dumps(doc))
    read = results.read(p)
    assert read["schema"] == results.SCHEMA_VERSION == 2
    assert read["runs"][0]["id"] == 1 and read["runs"][0]["date"] == doc["metadata"]["date"]
    assert [o["run"] for o in read["outcomes"]] == [1]
    assert Outcome.from_dict(read["outcomes"][0]).run == 1


def test_outcomes_round_trip_leaked_notes():
    o = Outcome.from_dict(_o("a", "eager", leaked=["dtype policy mixed_float16"], run=3))
    assert o.leaked == ("dtype policy mixed_float16",)
    assert o.to_dict()["leaked"] == ["dtype policy mixed_float16"] and o.to_dict()["run"] == 3
    assert Outcome.from_dict(_o("a", "eager")).leaked == ()


def test_package_changes_name_each_version_that_moved():
    old = _doc([], [], metadata={"pip_freeze": ["keras==2.15.0", "numpy==1.26.4", "tensorflow-cpu==2.15.0"]})
    assert results.package_changes(old, ["keras==2.15.0", "numpy==1.26.4", "tensorflow-cpu==2.15.0"]) == []
    assert results.package_changes(old, ["keras==2.15.0", "tensorflow-cpu==2.15.1", "wrapt==1.14"]) == [
        "numpy 1.26.4 -> (none)", "tensorflow-cpu 2.15.0 -> 2.15.1", "wrapt (none) -> 1.14"]
    # pytest, installed when a suite first runs in the environment, is no change of it
    assert results.package_changes(old, ["keras==2.15.0", "numpy==1.26.4", "tensorflow-cpu==2.15.0",
                                         "pytest==9.0.1", "pluggy==1.6.0", "iniconfig==2.3.0"]) == []


def _run_probe(tmp_path, out, *extra):
    # This interpreter has no TensorFlow: both errors come before any worker starts.
    return subprocess.run(
        engine(sys.executable, "probe", "--cases", str(RESOURCES / "corpus_small"), "--label", "tf2.15",
         "--out", str(out), *extra), capture_output=True, text=True, cwd=tmp_path)


def test_a_selection_matching_nothing_is_exit_2_naming_it_and_leaves_results_alone(tmp_path):
    out = tmp_path / "tf2.15.json"
    out.write_text("the earlier results\n")
    proc = _run_probe(tmp_path, out, "--select", "small-*", "--select", "smal-python-if")
    assert proc.returncode == 2
    assert proc.stderr.startswith("tfcanary: error: Expected --select patterns matching")
    assert "'smal-python-if'" in proc.stderr and "'small-*'" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.read_text() == "the earlier results\n"


def test_select_refuses_to_merge_results_of_other_package_versions(tmp_path):
    out = tmp_path / "tf2.15.json"
    results.write(out, _doc([_o("small-python-if", "eager", run=1)], ["small-python-if"], runs=[{"id": 1}]))
    before = out.read_text()
    proc = _run_probe(tmp_path, out, "--select", "small-python-if")
    assert proc.returncode == 2
    assert "holds outcomes probed with other package versions (" in proc.stderr
    assert "tensorflow-cpu 2.15.1 -> (none)" in proc.stderr
    assert out.read_text() == before


def test_select_refuses_an_unreadable_results_file_rather_than_replace_it(tmp_path):
    out = tmp_path / "tf2.15.json"
    out.write_text('{"schema": 2, "label": "tf2.15", "outco')
    proc = _run_probe(tmp_path, out, "--select", "small-python-if")
    assert proc.returncode == 2 and "not a results file (invalid JSON" in proc.stderr
    assert out.read_text() == '{"schema": 2, "label": "tf2.15", "outco'


@pytest.mark.parametrize("bad", ["0", "-1"])
def test_jobs_must_be_positive(tmp_path, bad):
    proc = _run_probe(tmp_path, tmp_path / "r.json", "--jobs", bad)
    assert proc.returncode == 2 and "expected --jobs 1 or more" in proc.stderr
