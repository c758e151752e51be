"""Shared fixtures.

``probed`` builds two real environments (Keras 2: tf2.15, Keras 3: tf2.21) with
the project's own noxfile, probes the whole corpus in each, and returns where
the results are.  The environments live in .nox/ and are reused by later runs;
the results go to a temporary folder.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tfcanary.envs import install, launch

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = Path(__file__).resolve().parent / "resources"
E2E_ENVS = ("tf2.15", "tf2.21")


def nox_cmd(*args: str) -> list:
    return [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args]


def venv_python(label: str) -> Path:
    """The interpreter of nox's environment of ``label``."""
    return install.venv_python(install.nox_venv(ROOT, label))


def engine(python, tool: str, *args: str) -> list:
    """The command line that starts engine ``tool`` (probe, time) with ``python``: the launcher's."""
    return launch.command(python, tool, [str(a) for a in args])


@pytest.fixture(scope="session")
def probed(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    proc = subprocess.run(nox_cmd("-s", *E2E_ENVS, "--", "--results-dir", str(out)),
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"nox -s {' '.join(E2E_ENVS)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return {"dir": out, "log": proc.stdout + proc.stderr,
            "files": {label: out / f"{label}.json" for label in E2E_ENVS}}


@pytest.fixture(scope="session")
def tf215(tmp_path_factory):
    """The interpreter of nox's tf2.15 environment: reused when nox built it, else built now by
    nox (probing one case).  Tests use it as it is: they install nothing into it."""
    python = venv_python("tf2.15")
    if not (python.exists() and (install.nox_venv(ROOT, "tf2.15") / install.MARKER).exists()):
        out = tmp_path_factory.mktemp("tf215")
        proc = subprocess.run(nox_cmd("-s", "tf2.15", "--", "--select", "python-if-on-tensor",
                                      "--results-dir", str(out)), cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"nox -s tf2.15 failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return python
