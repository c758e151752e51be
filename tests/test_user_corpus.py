"""The README's "Your own layers" example, run exactly as written, on real TensorFlow.

The files and commands are extracted from README.md, so the README cannot drift
from what works.  Environments go to $TFCANARY_CACHE (default .nox/user-cache,
reused by later runs: `rm -rf .nox` frees it).
"""

import os
import re
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT

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
