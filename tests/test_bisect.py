"""Bisection: the search (with a probe function standing in for environments: this tests the
algorithm, not TensorFlow), the index reader and the path, the files, and two end-to-end runs on
real installs (a real Keras transition, a nondeterministic case)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from tfcanary import results
from tfcanary.bisect import path as _bisect_env
from tfcanary.bisect import run as bisection
from tfcanary.bisect import workspace as _workspace
from tfcanary.bisect import search as search_mod
from tfcanary.bisect.search import Finding, Obs, search
from tfcanary.envs import index as _index
from tfcanary.errors import UserError

from conftest import RESOURCES, ROOT, engine

K1 = ("case-a", "broken", "eager")
K2 = ("case-b", "broken", "script")
OLD, NEW, OTHER = Obs("error", "ValueError", "f1"), Obs("error", "AttributeError", "f2"), Obs("ok")


def changes_at(first: dict, n: int, dead=(), flips=()):
    """A probe over points 0..n-1 where key k has OLD before first[k] and NEW from it on."""
    calls = []
    seen_ends = set()

    def probe(i, keys):
        calls.append((i, tuple(keys)))
        if i in dead:
            return None
        out = {}
        for k in keys:
            obs = NEW if i >= first[k] else OLD
            if k in flips and i in (0, n - 1):
                obs = OTHER if (i, k) in seen_ends else obs
                seen_ends.add((i, k))
            out[k] = obs
        return out

    return probe, calls


# --- search -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n,first", [(2, 1), (3, 1), (3, 2), (17, 9), (41, 1), (41, 40), (41, 23)])
def test_search_finds_the_first_changed_point_within_log2_plus_2_environments(n, first):
    probe, calls = changes_at({K1: first}, n)
    [f] = search(n, [K1], probe)
    assert f.state == "found"
    assert (f.before, f.first) == (first - 1, first)
    assert (f.a, f.first_obs) == (OLD, NEW)
    points = {i for i, _ in calls}
    assert len(points) <= math.ceil(math.log2(n - 1 or 1)) + 2


def test_batch_probes_all_open_transitions_in_one_environment():
    n = 33
    keys = [("c%d" % j, "broken", "eager") for j in range(6)]
    first = {k: [5, 5, 5, 20, 20, 31][j] for j, k in enumerate(keys)}
    probe, calls = changes_at(first, n)
    found = search(n, keys, probe)
    assert [(f.before, f.first) for f in found] == [(first[k] - 1, first[k]) for k in keys]
    points = {i for i, _ in calls}
    per_key = 0
    for k in keys:
        p, c = changes_at({k: first[k]}, n)
        search(n, [k], p)
        per_key += len({i for i, _ in c})
    assert len(points) < per_key / 2
    # every probe after the ends asks for every key whose interval holds the point
    middle = [(i, ks) for i, ks in calls if i not in (0, n - 1)]
    assert any(len(ks) > 1 for _, ks in middle)


def test_an_outcome_that_changes_twice_has_both_changes_found():
    n = 30
    mid = Obs("error", "TypeError", "f3")

    def probe(i, keys):
        return {k: OLD if i < 5 else (mid if i < 12 else NEW) for k in keys}

    [f] = search(n, [K1], probe)
    assert (f.before, f.first, f.first_obs) == (4, 5, mid)
    assert f.later == ((11, 12, NEW),)
    assert Finding.from_dict(f.to_dict()) == f
    pts = [(("tensorflow-cpu", "2.16.2"), ("keras", "3.%d.0" % i)) for i in range(n)]
    assert search_mod.line(f, pts).endswith(
        "ValueError -> TypeError first in keras 3.5.0 (3.4.0 before it; tensorflow-cpu 2.16.2 held fixed); "
        "then AttributeError first in keras 3.12.0 (3.11.0 before it)")


def test_uninstallable_points_are_skipped_and_listed_never_guessed():
    n = 9
    probe, calls = changes_at({K1: 4}, n, dead={3, 4})
    [f] = search(n, [K1], probe)
    assert f.state == "found"
    assert f.before == 2 and f.first == 5 and f.skipped == (3, 4)


def test_an_outcome_that_differs_on_a_second_probe_of_an_end_is_nondeterministic():
    n = 9
    probe, calls = changes_at({K1: 4, K2: 4}, n, flips={K1})
    found = search(n, [K1, K2], probe)
    assert [f.state for f in found] == ["nondeterministic", "found"]
    assert found[0].a2 == OTHER and found[0].before is None
    # the nondeterministic key is never probed inside the path
    assert all(K1 not in ks for i, ks in calls if i not in (0, n - 1))


def test_unchanged_and_absent_keys_are_not_bisected():
    def probe(i, keys):
        return {k: OLD for k in keys if not (k == K2 and i == 0)}

    found = search(5, [K1, K2], probe)
    assert [f.state for f in found] == ["unchanged", "absent"]


def test_an_endpoint_that_cannot_be_probed_is_a_user_error():
    with pytest.raises(UserError, match="endpoint B"):
        search(5, [K1], lambda i, keys: None if i == 4 else {K1: OLD})


# --- describing -------------------------------------------------------------------------------

POINTS = [(("tensorflow-cpu", "2.16.2"), ("keras", v)) for v in ("3.3.3", "3.4.1", "3.5.0", "3.6.0")]


def test_line_names_the_release_the_one_before_and_what_was_held():
    f = Finding(("sequential-model-output", "broken", "script"), "found", OLD, NEW, OLD, NEW, 2, 3, NEW)
    assert search_mod.line(f, POINTS) == (
        "sequential-model-output/broken/script: ValueError -> AttributeError first in keras 3.6.0 "
        "(3.5.0 before it; tensorflow-cpu 2.16.2 held fixed)")
    assert search_mod.first_changed_text(f, POINTS) == "keras 3.6.0 (3.5.0 before)"


def test_line_for_a_two_package_step_with_skipped_versions_between():
    pts = [(("tensorflow-cpu", "2.15.1"), ("keras", "2.15.0")),
           (("tensorflow-cpu", "2.15.1"), ("keras", "3.0.0")),
           (("tensorflow-cpu", "2.16.1"), ("keras", "3.0.0"))]
    f = Finding(K1, "found", OTHER, NEW, OTHER, NEW, 0, 2, NEW, (1,))
    text = search_mod.line(f, pts)
    assert "ok -> AttributeError first in tensorflow-cpu 2.16.1 + keras 3.0.0" in text
    assert "(tensorflow-cpu 2.15.1 + keras 2.15.0 before it; 1 between could not be installed: " \
           "tensorflow-cpu 2.15.1 + keras 3.0.0)" in text


# --- index and path ---------------------------------------------------------------------------

def test_version_order_follows_pep_440():
    got = sorted(["2.21.0", "2.21.0rc1", "2.21.0.dev5", "2.22.0.dev20260101", "2.21.0.post1", "2.3",
                  "2.15.0.post1"], key=_index.version_key)
    assert got == ["2.3", "2.15.0.post1", "2.21.0.dev5", "2.21.0rc1", "2.21.0", "2.21.0.post1",
                   "2.22.0.dev20260101"]
    with pytest.raises(ValueError, match="PEP 440"):
        _index.version_key("latest")


def _page(files):
    return json.dumps({"meta": {"api-version": "1.1"}, "files": files}).encode()


def _file(name, up, yanked=False):
    return {"filename": name, "upload-time": up, "yanked": yanked}


def fake_index(pages):
    return _index.Index("https://index.invalid/simple", python="3.11",
                        fetch=lambda url: (pages[url.rstrip("/").rsplit("/", 1)[-1]],
                                           "application/vnd.pypi.simple.v1+json"))


def test_index_drops_yanked_and_prereleases_and_wheels_for_other_pythons():
    ix = fake_index({"keras": _page([
        _file("keras-3.4.1-py3-none-any.whl", "2024-06-26T00:00:00Z"),
        _file("keras-3.5.0rc1-py3-none-any.whl", "2024-08-01T00:00:00Z"),
        _file("keras-3.5.0-py3-none-any.whl", "2024-08-12T00:00:00Z"),
        _file("keras-3.5.1-py3-none-any.whl", "2024-08-13T00:00:00Z", yanked=True),
        _file("keras-3.6.0-cp39-cp39-manylinux_2_17_x86_64.whl", "2024-10-03T00:00:00Z"),
    ])})
    got = [(r.version, r.installable) for r in ix.releases("Keras")]
    assert got == [("3.4.1", True), ("3.5.0", True), ("3.6.0", False)]
    assert "3.5.0rc1" in [r.version for r in ix.releases("keras", prereleases=True)]


def test_index_reads_html_pages_too():
    body = (b'<a href="https://f/keras-3.5.0-py3-none-any.whl#sha256=1" '
            b'data-upload-time="2024-08-12T20:42:48Z">x</a>'
            b'<a href="https://f/keras-3.5.1-py3-none-any.whl" data-yanked="">y</a>')
    ix = _index.Index("https://i/simple", python="3.11", fetch=lambda url: (body, "text/html"))
    assert [(r.version, r.uploaded) for r in ix.releases("keras")] == [("3.5.0", "2024-08-12T20:42:48Z")]


def test_path_steps_one_package_at_a_time_in_upload_order():
    ix = fake_index({
        "tensorflow-cpu": _page([_file(f"tensorflow_cpu-{v}-cp311-cp311-manylinux_2_17_x86_64.whl", t)
                                 for v, t in [("2.16.1", "2024-03-09"), ("2.16.2", "2024-06-28"),
                                              ("2.17.0", "2024-07-11")]]),
        "keras": _page([_file(f"keras-{v}-py3-none-any.whl", t)
                        for v, t in [("3.0.5", "2024-02-14"), ("3.4.1", "2024-06-26"),
                                     ("3.5.0", "2024-08-12")]]),
    })
    a = (("tensorflow-cpu", "2.16.1"), ("keras", "3.0.5"))
    b = (("tensorflow-cpu", "2.17.0"), ("keras", "3.5.0"))
    p = _bisect_env.build_path(a, b, ix)
    assert p.steps == ["", "keras 3.4.1", "tensorflow-cpu 2.16.2", "tensorflow-cpu 2.17.0", "keras 3.5.0"]
    assert p.points[0] == a and p.points[-1] == b
    with pytest.raises(UserError, match="newer than A"):
        _bisect_env.build_path(b, a, ix)


def test_path_to_nightly_swaps_both_packages_first_then_goes_by_date():
    ix = fake_index({
        "tensorflow-cpu": _page([_file("tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_17_x86_64.whl",
                                       "2026-03-06")]),
        "keras": _page([_file("keras-3.15.1-py3-none-any.whl", "2026-07-29")]),
        "tf-nightly": _page([_file(f"tf_nightly-2.22.0.dev{d}-cp311-cp311-manylinux_2_17_x86_64.whl",
                                   f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in ("20260301", "20260310", "20260801")]),
        "keras-nightly": _page([_file(f"keras_nightly-3.16.0.dev{d}04-py3-none-any.whl",
                                      f"{d[:4]}-{d[4:6]}-{d[6:]}") for d in ("20260720", "20260730", "20260805")]),
    })
    a = (("tensorflow-cpu", "2.21.0"), ("keras", "3.15.1"))
    b = (("tf-nightly", "2.22.0.dev20260801"), ("keras-nightly", "3.16.0.dev2026080504"))
    p = _bisect_env.build_path(a, b, ix)
    assert p.steps == ["", "tf-nightly 2.22.0.dev20260310 + keras-nightly 3.16.0.dev2026073004",
                       "tf-nightly 2.22.0.dev20260801", "keras-nightly 3.16.0.dev2026080504"]


def test_endpoints_from_pins_and_from_results_files(tmp_path):
    e = _bisect_env.endpoint("keras==3.5.0,tensorflow-cpu==2.16.2", [])
    assert e.pins == (("tensorflow-cpu", "2.16.2"), ("keras", "3.5.0"))
    with pytest.raises(UserError, match="results file tf2.16.json"):
        _bisect_env.endpoint("tf2.16", [str(tmp_path)])
    results.write(tmp_path / "tf2.16.json", {
        "label": "tf2.16", "status": "ok", "metadata": {"pip_freeze": ["keras==3.0.5", "tensorflow-cpu==2.16.1"]},
        "outcomes": [{"case": "c", "variant": "broken", "mode": "eager", "status": "ok"}]})
    e = _bisect_env.endpoint("tf2.16", [str(tmp_path)])
    assert e.pins == (("tensorflow-cpu", "2.16.1"), ("keras", "3.0.5")) and ("c", "broken", "eager") in e.outcomes


def test_keys_are_the_corpus_items_that_differ_between_the_results_files_high_risk_on_request():
    def ep(name, outcomes):
        return _bisect_env.Endpoint(name, (("tensorflow-cpu", "2.16.1"), ("keras", "3.0.5")), {
            (c, v, m): o for (c, v, m), o in outcomes.items()})

    err = {"status": "error", "exc_type": "builtins.ValueError", "fingerprint": "f1"}
    other_msg = {**err, "fingerprint": "f2"}
    ok = {"status": "ok"}
    a = ep("a", {("small-python-if", "broken", "eager"): ok, ("small-python-if", "broken", "graph"): err,
                 ("small-python-if", "fixed", "eager"): ok, ("not-in-corpus", "broken", "eager"): ok})
    b = ep("b", {("small-python-if", "broken", "eager"): err, ("small-python-if", "broken", "graph"): other_msg,
                 ("small-python-if", "fixed", "eager"): ok, ("not-in-corpus", "broken", "eager"): err})
    corpus = [str(RESOURCES / "corpus_small")]
    assert bisection.select_keys(corpus, [], a, b) == [("small-python-if", "broken", "eager"),
                                                       ("small-python-if", "broken", "graph")]
    assert bisection.select_keys(corpus, [], a, b, high_risk=True) == [("small-python-if", "broken", "eager")]
    assert bisection.select_keys(corpus, ["nothing*"], a, b) == []
    with pytest.raises(UserError, match="not in the corpus"):
        bisection.select_keys(corpus, [], a, b, only=("nope", "broken", "eager"))


def test_a_suites_tests_that_differ_are_keys_too_a_module_that_does_not_collect_standing_for_its_tests():
    def ep(name, outcomes):
        return _bisect_env.Endpoint(name, (("tensorflow-cpu", "2.16.1"), ("keras", "3.0.5")), outcomes)

    ok = {"status": "ok"}
    err = {"status": "error", "exc_type": "builtins.ValueError", "fingerprint": "f1"}
    gone = {"status": "error", "exc_type": "builtins.ModuleNotFoundError", "fingerprint": "m"}
    a = ep("a", {("t/test_a.py::test_x", "test", "pytest"): ok, ("t/test_a.py::test_y", "test", "pytest"): ok,
                 ("t/test_b.py::test_z[1]", "test", "pytest"): ok, ("t/test_b.py::test_w", "test", "pytest"): err})
    b = ep("b", {("t/test_a.py", "test", "collect"): gone, ("t/test_b.py::test_z[1]", "test", "pytest"): err,
                 ("t/test_b.py::test_w", "test", "pytest"): err})
    assert bisection.outcome_at(("t/test_a.py::test_x", "test", "pytest"), b.outcomes) is gone
    keys = bisection.select_keys([], [], a, b, tests=True)
    assert keys == [("t/test_a.py::test_x", "test", "pytest"), ("t/test_a.py::test_y", "test", "pytest"),
                    ("t/test_b.py::test_z[1]", "test", "pytest")]
    assert bisection.select_keys([], ["t/test_b.py::test_z"], a, b, tests=True) == [
        ("t/test_b.py::test_z[1]", "test", "pytest")]
    with pytest.raises(UserError, match="results files for both ends"):
        bisection.select_keys([], [], ep("pins", None), b, tests=True)


def test_each_point_installs_exactly_its_pins():
    entry, pins = _workspace._entry((("tensorflow-cpu", "2.16.2"), ("keras", "3.5.0")))
    assert entry.requirements(pins=pins) == ["tensorflow-cpu==2.16.2", "keras==3.5.0"]
    entry, pins = _workspace._entry((("tensorflow-cpu", "2.15.1"), ("keras", "2.15.0")))
    assert entry.flavour == "keras2"
    entry, pins = _workspace._entry((("tf-nightly", "2.23.0.dev20261026"),
                                      ("keras-nightly", "3.16.0.dev2026102704")))
    assert entry.requirements(pins=pins) == ["tf-nightly==2.23.0.dev20261026",
                                             "keras-nightly==3.16.0.dev2026102704"]
    entry, pins = _workspace._entry((("tensorflow-cpu", "2.21.0"), ("keras", "3.15.1"), ("tf-keras", "2.21.0")))
    assert entry.requirements(pins=pins)[-1] == "tf-keras==2.21.0"
    assert dict(entry.env) == {"TF_USE_LEGACY_KERAS": "1"}


# --- files ------------------------------------------------------------------------------------

def _doc(transitions):
    return {"schema": 1, "kind": "bisect", "a": {"name": "tf2.16", "pins": {}}, "b": {"name": "tf2.21", "pins": {}},
            "python": "3.11", "environments_probed": 4, "probes": 6, "environments_built": 2, "wall_s": 1.0,
            "path": [], "no_wheel": [], "transitions": transitions}


def test_first_changed_reads_the_bisection_files_for_the_reports(tmp_path):
    found = {"case": "c", "variant": "broken", "mode": "script", "state": "found", "line": "l",
             "first_changed": "keras 3.6.0 (3.5.0 before)"}
    flaky = {"case": "d", "variant": "broken", "mode": "script", "state": "nondeterministic", "line": "m",
             "first_changed": None}
    json_path, md_path = bisection.write(_doc([found, flaky]), tmp_path / "bisect")
    assert json_path.name == "tf2.16--tf2.21.json" and md_path.exists()
    results.write(tmp_path / "tf2.16.json", {"label": "tf2.16", "status": "ok", "outcomes": []})
    assert bisection.first_changed([str(tmp_path)]) == {("c", "broken", "script"): "keras 3.6.0 (3.5.0 before)"}
    assert bisection.first_changed([str(tmp_path / "missing")]) == {}
    md = md_path.read_text()
    assert "## First changed (1)" in md and "## Nondeterministic (not bisected) (1)" in md


def test_a_newer_bisection_file_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({**_doc([]), "schema": 99}))
    with pytest.raises(results.ResultsError, match="newer tfcanary"):
        bisection.read(path)


def test_cli_wants_case_variant_and_mode_together(capsys):
    from tfcanary import cli

    assert cli.main(["bisect", "tf2.16", "tf2.21", "--case", "sequential-model-output"]) == 2
    assert "Expected --case, --variant and --mode together" in capsys.readouterr().err


# --- end to end, on real installs -------------------------------------------------------------

CACHE = ROOT / ".nox" / "bisect-cache"


def _bisect_cli(tmp_path, *args, env=None):
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "bisect", *args, "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src"), "TFCANARY_CACHE": str(CACHE),
                               **(env or {})})
    assert proc.returncode == 0, proc.stderr[-4000:]
    [path] = tmp_path.glob("*.json")
    return proc, bisection.read(path)


def _probe_directly(pins, case, cases):
    python = CACHE / "envs" / "bisect" / _workspace.env_name(pins, "3.11") / "bin" / "python"
    out = python.parent.parent / "direct-probe.json"
    subprocess.run(engine(python, "probe", "--cases", cases, "--label", "direct", "--out", str(out),
                          "--select", case), check=True, capture_output=True, text=True)
    doc = results.read(out)
    out.unlink()
    return {(o["case"], o["variant"], o["mode"]): Obs.of(o) for o in doc["outcomes"]}


@pytest.mark.e2e
def test_a_real_keras_transition_is_bisected_to_the_release_that_made_it(tmp_path):
    key = ("sequential-model-output", "broken", "script")
    proc, doc = _bisect_cli(tmp_path, "tensorflow-cpu==2.16.2,keras==3.3.3", "tensorflow-cpu==2.16.2,keras==3.6.0",
                            "--case", key[0], "--variant", key[1], "--mode", key[2])
    [t] = doc["transitions"]
    assert t["state"] == "found", t
    before, first = doc["path"][t["before"]]["pins"], doc["path"][t["first"]]["pins"]
    # adjacent on the index: nothing was skipped between the two neighbours
    assert t["first"] == t["before"] + 1 and t["skipped"] == []
    assert before["tensorflow-cpu"] == first["tensorflow-cpu"] == "2.16.2"
    # the neighbours, probed again directly, agree with the answer
    cases = str(ROOT / "cases")
    old = _probe_directly(tuple(before.items()), key[0], cases)[key]
    new = _probe_directly(tuple(first.items()), key[0], cases)[key]
    assert old == Obs.from_dict(t["a"]) and old.exc == "ValueError"
    assert new == Obs.from_dict(t["first_obs"]) and new.exc == "AttributeError"
    # observed on 2026-11-22: Keras 3.5.0 still raised ValueError, 3.6.0 is the first AttributeError
    assert (before["keras"], first["keras"]) == ("3.5.0", "3.6.0")
    assert t["line"] in proc.stdout
    assert doc["environments_probed"] <= math.ceil(math.log2(len(doc["path"]) - 1)) + 2


@pytest.mark.e2e
def test_a_nondeterministic_case_is_reported_as_such_not_bisected(tmp_path):
    counter = tmp_path / "counter.txt"
    proc, doc = _bisect_cli(tmp_path / "out", "tensorflow-cpu==2.16.2,keras==3.5.0",
                            "tensorflow-cpu==2.16.2,keras==3.6.0", "--cases", str(RESOURCES / "corpus_flaky"),
                            "--case", "flaky-counter", "--variant", "broken", "--mode", "script",
                            env={"TFCANARY_FLAKY_COUNTER": str(counter)})
    [t] = doc["transitions"]
    assert t["state"] == "nondeterministic", t
    assert t["first"] is None and doc["probes"] == 4
    assert "nondeterministic, not bisected" in proc.stdout
    assert int(counter.read_text()) == 4
