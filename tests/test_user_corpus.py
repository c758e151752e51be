"""The README's "Your own layers" example, run exactly as written, on real TensorFlow.

The files and commands are extracted from README.md, so the README cannot drift
from what works.  Environments go to $TFCANARY_CACHE (default .nox/user-cache,
reused by later runs: `rm -rf .nox` frees it).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tfcanary import results
from tfcanary.envs import install

from conftest import RESOURCES, ROOT

pytestmark = pytest.mark.e2e


def _section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("## Your own layers", 1)[1].split("\n## ", 1)[0]


def _files(section):
    """{path: code}: each code block follows a line naming its file in backticks."""
    out = {}
    for m in re.finditer(r"`([\w./]+)`:\n\n```\w+\n(.*?)```", section, re.S):
        out[m.group(1)] = m.group(2)
    return out


def test_the_readme_example_runs_as_written(tmp_path):
    section = _section()
    files = _files(section)
    assert {"pyproject.toml", "mycompany/layers.py", "cases/projection.py"} <= set(files)
    for path, code in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(code, encoding="utf-8")
    (tmp_path / "mycompany" / "__init__.py").write_text("")
    commands = re.search(r"```sh\n(.*?)```", section, re.S).group(1).splitlines()
    env = {**os.environ, "TFCANARY_CACHE": os.environ.get("TFCANARY_CACHE")
           or str(ROOT / ".nox" / "user-cache"),
           # the checkout's tfcanary, also when the tests run with PYTHONPATH=src (relative)
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    ran = 0
    for line in commands:
        words = shlex.split(line)
        if not words or "pip" in line:   # the install: this test runs the checkout's tfcanary
            continue
        assert words[0].endswith("tfcanary"), line
        proc = subprocess.run([sys.executable, "-m", "tfcanary", *words[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=1200)
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        ran += 1
    assert ran >= 4
    report = tmp_path / "reports" / "upgrade-tf2.15-tf2.21.html"
    assert "projection-positional-name" in report.read_text(encoding="utf-8")
    assert (tmp_path / "cases" / "snapshots" / "tf2.21.json").exists()
    assert (tmp_path / "results" / "tf2.15.json").exists()


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
