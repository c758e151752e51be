"""Two nights of a user's repository with the reusable workflow, played locally.

The user's repository is tests/resources/user_repo (a package with a custom layer,
a case folder importing it, a workload).  tfcanary is what a user installs: a wheel
of this checkout, pip-installed into a fresh virtual environment used outside the
repository.  The caller workflow is what ``tfcanary init-ci`` writes there; the
reusable workflow's own ``run:`` scripts are executed by bash, job by job, with the
caller's inputs and GitHub's variables (tests/_workflow.py stands in for GitHub's
runner).  GitHub itself cannot be reached: a bare git repository stands in for the
user's repository on GitHub, and tests/resources/fake_gh.py for the gh CLI (issues).
TensorFlow, tf-nightly and keras-nightly are real, two different nights from the
index; environments go to $TFCANARY_CACHE (default .nox/user-cache), reused.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import yaml

from _workflow import Runner
from conftest import RESOURCES, ROOT
from test_nightly import _git, _project_copy, _tonights_pins

pytestmark = pytest.mark.e2e

WORKFLOW = ROOT / ".github" / "workflows" / "reusable-nightly.yml"
TIMER = "--processes 1 --max-processes 1 --repeats 5 --target-ms 4"
SHA = "0123456789abcdef0123456789abcdef01234567"     # the pin init-ci writes (never fetched here)
CASE, WORKLOAD = "gated-residual-weight-names", "mycompany-gated-stack"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """tfcanary as a user has it: a wheel of this checkout in a fresh venv; (bin folder, wheel)."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    _project_copy(src)            # built from a copy: the checkout gets no build/ or egg-info
    uv = shutil.which("uv", path=os.path.dirname(sys.executable)) or shutil.which("uv")
    subprocess.run([uv, "build", "-q", "--wheel", "-o", str(tmp / "dist"), str(src)], check=True)
    wheel, = (tmp / "dist").glob("tfcanary-*.whl")
    venv = tmp / "venv"
    subprocess.run([uv, "venv", "-q", "--seed", "-p", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "-p", str(venv / "bin" / "python"), str(wheel)], check=True)
    return venv / "bin", wheel


def _env(bin_dir, tmp_path, **extra):
    """The runner's variables: the installed tfcanary first on PATH, nothing of this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env["TFCANARY_CACHE"] = os.environ.get("TFCANARY_CACHE") or str(ROOT / ".nox" / "user-cache")
    env.update(extra)
    return env


def _sh(cwd, env, *words):
    proc = subprocess.run(list(words), cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(words)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _push(repo, message):
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", message)
    _git(repo, "push", "-q", "origin", "main")


def _night(tmp_path, n, inputs, env):
    runner = Runner(WORKFLOW, inputs, tmp_path / f"night{n}", str(tmp_path / "origin.git"), env=env,
                    run_id=f"night{n}")
    jobs = runner.run()
    (tmp_path / f"night{n}" / "log.txt").write_text(_log(jobs, tail=None))   # for a look afterwards
    return runner, jobs


def _log(jobs, tail=8000):
    text = "\n".join(f"--- {j.name}: {j.result}\n" + "\n".join(j.log) for runs in jobs.values() for j in runs)
    return text[-tail:] if tail else text


def test_two_nights_of_a_users_repository_with_the_reusable_workflow(tmp_path, installed):
    started = time.monotonic()
    bin_dir, wheel = installed
    pins_1, pins_2 = _tonights_pins()
    assert dict(pins_1.versions)["tf-nightly"] != dict(pins_2.versions)["tf-nightly"]
    gh = tmp_path / "gh-bin"
    gh.mkdir()
    (gh / "gh").write_text(f"#!/bin/sh\nexec {sys.executable} {RESOURCES / 'fake_gh.py'} \"$@\"\n")
    (gh / "gh").chmod(0o755)
    env = _env(bin_dir, tmp_path, FAKE_GH_STATE=str(tmp_path / "gh.json"))
    env["PATH"] = f"{gh}{os.pathsep}{env['PATH']}"     # `gh` is the stand-in

    # The user's repository, on a laptop: init-ci writes the caller, the first snapshots are
    # reviewed and committed, all pushed to the repository standing in for GitHub's.
    repo = tmp_path / "laptop"
    shutil.copytree(RESOURCES / "user_repo", repo)
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(tmp_path / "origin.git"))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    said = _sh(repo, env, "tfcanary", "init-ci", "--repo", "example/tfcanary", "--ref", SHA, "--with", "-e .",
               "--env", "tf2.21", "--workloads", "workloads", "--pytest", "tests")
    assert "Settings -> Actions -> General" in said and "issues: write" in said
    caller = yaml.safe_load((repo / ".github" / "workflows" / "tfcanary-nightly.yml").read_text())
    call = caller["jobs"]["nightly"]
    assert call["uses"] == f"example/tfcanary/.github/workflows/reusable-nightly.yml@{SHA}"
    assert call["permissions"] == {"contents": "read", "issues": "write"}
    _sh(repo, env, "tfcanary", "run", "--cases", "cases", "--pytest", "tests", "--env", "tf2.21", "--with", "-e .",
        "--no-report")
    _sh(repo, env, "tfcanary", "check", "--update")
    assert sorted(p.name for p in (repo / "cases" / "snapshots").iterdir()) == ["tf2.21.json"]
    shutil.rmtree(repo / "results")
    _push(repo, "layers, cases, snapshots, the nightly")

    # The caller's inputs, with tfcanary from the wheel (the runner cannot reach GitHub) and a
    # short timer; each night pins its own real nightlies.
    inputs = {**call["with"], "tfcanary": str(wheel), "timer-args": TIMER}

    def pinned(pins):
        return {**inputs, "nightly-pins": " ".join(f"{k}=={v}" for k, v in pins.versions)}

    # Night 1: tf2.21 as in the snapshots, nightly without a snapshot yet: a transition, the
    # check fails, the alert opens.
    run_1, one = _night(tmp_path, 1, pinned(pins_1), env)
    assert json.loads(one["pin"][0].outputs["envs"]) == ["tf2.21", "nightly"], _log(one)
    assert [j.result for j in one["env"]] == ["success", "success"], _log(one)
    assert one["report"][0].result == "failure", _log(one)          # the check found transitions
    results = run_1.artifacts / "tfcanary-results"
    reports = run_1.artifacts / "tfcanary-reports"
    for label, pins in (("tf2.21", None), ("nightly", pins_1)):
        doc = json.loads((results / f"{label}.json").read_text())
        assert doc["status"] == "ok" and doc["corpus"]["with"] == ["-e ."]
        freeze = set(doc["metadata"]["pip_freeze"])
        assert any(line.startswith("mycompany") for line in freeze)         # the user's package
        if pins:
            assert {f"{k}=={v}" for k, v in pins.versions} <= freeze        # tonight's pins, really
        by_mode = {(o["variant"], o["mode"]): o for o in doc["outcomes"] if o["variant"] != "test"}
        assert by_mode[("fixed", "graph")]["status"] == "ok"
        tests = {o["case"]: o for o in doc["outcomes"] if o["variant"] == "test"}    # the tests input
        assert tests["tests/test_gated.py::test_output_keeps_the_input_shape[False]"]["status"] == "ok"
        keras3 = tests["tests/test_gated.py::test_output_keeps_the_input_shape[True]"]
        assert keras3["status"] == "error" and keras3["frame"].startswith("mycompany/layers.py:")
        assert by_mode[("broken", "eager")]["exc_type"].endswith("ValueError")   # Keras 3 refuses
        speed = json.loads((results / "speed" / f"{label}.json").read_text())
        timed = {e["case"]: e for e in speed["results"]}
        assert set(timed) == {CASE, WORKLOAD}
        assert all(e["summary"]["ratio_graph"] > 0 for e in timed.values())
        assert speed["metadata"]["threads"] == {"intra_op": 1, "inter_op": 1}
    with open(results / "speed" / "speedups.csv", newline="") as f:
        assert {(r["env"], r["case"]) for r in csv.DictReader(f)} == {
            (e, c) for e in ("tf2.21", "nightly") for c in (CASE, WORKLOAD)}
    page = (reports / "index.html").read_text()
    assert "<svg" in page and WORKLOAD in page                       # the speed chart
    assert 'href="upgrade-tf2.21-nightly.html"' in page              # the matrix links the upgrade
    assert (reports / "upgrade-tf2.21-nightly.html").is_file()
    summary = one["report"][0].summary
    assert "tf2.21 → nightly" in summary and "no-snapshot" in summary   # upgrade report, then check
    check = ET.parse(reports / "check.xml").getroot()
    assert int(check.get("failures")) == 1
    assert (reports / "bisect" / "tf2.21--nightly.md").is_file()      # the high-risk bisection ran
    assert "alert: open" in _log({"alert": one["alert"]})

    # The developer reviews the night and accepts nightly's outcomes as its snapshot.
    _git(repo, "pull", "-q", "origin", "main")
    _sh(repo, env, "tfcanary", "check", "--results", str(results / "nightly.json"), "--update")
    _push(repo, "snapshot of nightly")

    # Night 2: other nightlies, the same outcomes: clean, the alert closes.
    run_2, two = _night(tmp_path, 2, pinned(pins_2), env)
    assert [j.result for j in two["env"]] == ["success", "success"], _log(two)
    assert two["report"][0].result == "success", _log(two)
    doc = json.loads((run_2.artifacts / "tfcanary-results" / "nightly.json").read_text())
    assert {f"{k}=={v}" for k, v in pins_2.versions} <= set(doc["metadata"]["pip_freeze"])
    assert int(ET.parse(run_2.artifacts / "tfcanary-reports" / "check.xml").getroot().get("failures")) == 0
    assert "alert: close #1" in _log({"alert": two["alert"]})
    issues = json.loads((tmp_path / "gh.json").read_text())["issues"]
    assert [(i["state"], i["labels"]) for i in issues] == [("closed", ["tfcanary-nightly"])]
    assert "no-snapshot" in issues[0]["body"] and "night1" in issues[0]["body"]   # the run's link
    # Nothing was pushed by the night: the repository holds the developer's main only.
    assert _git(tmp_path / "origin.git", "for-each-ref", "--format=%(refname)") == "refs/heads/main"
    print(f"two nights of a user's repository: {time.monotonic() - started:.0f} s")
