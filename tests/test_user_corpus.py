"""The README's "Your own layers" and "Your existing tests" examples, run exactly as written,
with tfcanary ``pip install``ed into a virtual environment of its own (the ``installed``
fixture) and run from a folder outside this repository, on real TensorFlow.

The files and commands are extracted from README.md, so the README cannot drift from what
works.  Environments go to $TFCANARY_CACHE (default .nox/user-cache, reused by later runs:
`rm -rf .nox` frees it).
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tfcanary import results
from tfcanary.envs import install

from conftest import RESOURCES, ROOT, user_env

pytestmark = pytest.mark.e2e


def _section(title):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def _files(section):
    """{path: code}: each code block follows a line naming its file in backticks."""
    out = {}
    for m in re.finditer(r"`([\w./]+)`:\n\n```\w+\n(.*?)```", section, re.S):
        out[m.group(1)] = m.group(2)
    return out


def _commands(section):
    return [line for block in re.findall(r"```sh\n(.*?)```", section, re.S) for line in block.splitlines()
            if line.strip()]


def _write(project, files):
    for path, code in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(code, encoding="utf-8")
    (project / "mycompany" / "__init__.py").write_text("")


def _run_as_written(project, commands, tfcanary):
    """Each command as the README has it, with the installed tfcanary for `.venv/bin/tfcanary`."""
    ran = []
    for line in commands:
        words = shlex.split(line, comments=True)
        if "pip" in line:            # the install: the `installed` fixture did it
            continue
        assert words[0].endswith("tfcanary"), line
        proc = subprocess.run([str(tfcanary), *words[1:]], cwd=project, env=user_env(),
                              capture_output=True, text=True, timeout=1800)
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        ran.append(proc)
    return ran


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The README's example repository: the package, its cases and its tests."""
    root = tmp_path_factory.mktemp("mycompany-repo")
    _write(root, {**_files(_section("Your own layers")), **_files(_section("Your existing tests"))})
    return root


def test_the_readme_layers_example_runs_as_written_from_an_installed_tfcanary(project, installed):
    section = _section("Your own layers")
    assert {"pyproject.toml", "mycompany/layers.py", "cases/projection.py"} <= set(_files(section))
    ran = _run_as_written(project, _commands(section), installed)
    assert len(ran) >= 4
    report = project / "reports" / "upgrade-tf2.15-tf2.21.html"
    assert "projection-positional-name" in report.read_text(encoding="utf-8")
    speed = json.loads((project / "results" / "speed" / "tf2.21.json").read_text())
    timed = {e["case"]: e for e in speed["results"]}
    assert timed["mycompany-projection-stack"]["summary"]["ratio_graph"] > 0     # the workload, timed
    assert "<svg" in (project / "reports" / "index.html").read_text(encoding="utf-8")
    assert (project / "cases" / "snapshots" / "tf2.21.json").exists()
    doc = json.loads((project / "results" / "tf2.15.json").read_text())
    assert doc["status"] == "ok" and str(project) not in json.dumps(doc)
    # report and check from the installed copy too
    for args in (["report", "results"], ["check"]):
        proc = subprocess.run([str(installed), *args], cwd=project, env=user_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_the_readme_tests_example_runs_as_written_from_an_installed_tfcanary(project, installed):
    section = _section("Your existing tests")
    assert "tests/test_layers.py" in _files(section)
    ran = _run_as_written(project, _commands(section), installed)
    assert len(ran) == 3
    tests = {o["case"]: o for o in json.loads((project / "results" / "tf2.21.json").read_text())["outcomes"]
             if o["variant"] == "test"}
    assert len(tests) == 5
    assert tests["tests/test_layers.py::test_projection_keyword_name[8]"]["status"] == "ok"
    broken = tests["tests/test_layers.py::test_projection_shape"]
    assert broken["status"] == "error" and broken["frame"].startswith("mycompany/layers.py:")
    md = (project / "reports" / "upgrade-tf2.15-tf2.21.md").read_text()
    assert "tf2.15 → tf2.21: high risk — 2 of 5 tests newly fail in tf2.21" in md
    bisected = ran[2].stdout
    for test in ("test_projection_shape", "test_swish_function_on_a_keras_input"):
        assert re.search(rf"tests/test_layers.py::{test}/test/pytest: ok -> \w+ first in ", bisected), bisected
    assert "keras 3" in bisected


def test_a_refused_select_changes_nothing_and_reports_nothing(tf215, tmp_path):
    """``--select`` matching no case, in a real environment (nox's tf2.15, reused as it is): the
    probe refuses (exit 2) before anything is probed; the results file keeps every byte (its
    ``corpus.with`` included), and no report or summary follows the refusal."""
    shutil.copytree(RESOURCES / "corpus_small", tmp_path / "cases")
    existing = tmp_path / "results" / "tf2.15.json"
    results.write(existing, {
        "label": "tf2.15", "status": "ok", "env": {}, "metadata": {"date": "2026-01-01T00:00:00+00:00"},
        "corpus": {"paths": ["cases"], "snapshots": "cases/snapshots", "with": ["-e ."]},
        "runs": [{"id": 1, "date": "2026-01-01T00:00:00+00:00", "select": [], "shuffle": None, "jobs": 1,
                  "outcomes": 1}],
        "cases": [], "corpus_errors": [],
        "outcomes": [{"case": "small-python-if", "variant": "broken", "mode": "eager", "status": "ok",
                      "duration_s": 0.1, "run": 1}]})
    before = existing.read_bytes()
    venv = install.nox_venv(ROOT, "tf2.15")
    marker = (venv / install.MARKER).read_bytes()
    used = (venv / install.USED).stat().st_mtime_ns if (venv / install.USED).exists() else None
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "run", "--env", "tf2.15", "--venv", str(venv),
                           "--cases", "cases", "--select", "no-such-case"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "'no-such-case', which match nothing" in proc.stderr and "is left as it was" in proc.stderr
    assert "reused the installed environment" in proc.stdout   # a reuse: nothing installed
    assert existing.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["tf2.15.json"]
    assert not (tmp_path / "reports").exists()
    assert "wrote" not in proc.stdout and not re.search(r"^environment\s+status", proc.stdout, re.M)
    # --venv is the user's environment: a reuse leaves it as it was, last-use stamp included
    assert (venv / install.MARKER).read_bytes() == marker
    assert ((venv / install.USED).stat().st_mtime_ns if (venv / install.USED).exists() else None) == used
