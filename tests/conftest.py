"""Shared fixtures.

``probed`` builds two real environments (Keras 2: tf2.15, Keras 3: tf2.21) with
the project's own noxfile, probes the whole corpus in each, and returns where
the results are.  The environments live in .nox/ and are reused by later runs;
the results go to a temporary folder.
"""

from __future__ import annotations

import os
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


USER_CACHE = ROOT / ".nox" / "user-cache"    # environments of the tests that run tfcanary as a user would


@pytest.fixture(scope="session")
def installed():
    """tfcanary as a user has it: ``pip install``ed (not editable) into a virtual environment of
    its own, its code in that environment's site-packages.  Returns its ``tfcanary`` command.
    The environment is kept in .nox/installed and this checkout reinstalled into it each session."""
    venv = ROOT / ".nox" / "installed"
    python = install.venv_python(venv)
    uv = install.uv_binary()
    if not python.exists():
        subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    proc = subprocess.run([uv, "pip", "install", "-q", "-p", str(python), "--reinstall-package", "tfcanary",
                           str(ROOT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    tfcanary = venv / "bin" / "tfcanary"
    assert tfcanary.exists()
    site = subprocess.run([str(python), "-c", "import tfcanary; print(tfcanary.__file__)"],
                          capture_output=True, text=True, check=True, env=user_env()).stdout
    assert "site-packages" in site, site      # the installed copy, not this checkout's src/
    return tfcanary


def user_env(**extra):
    """The environment variables of a user's shell running tfcanary: the user-tests' cache, no
    PYTHONPATH of this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TFCANARY_CACHE"] = os.environ.get("TFCANARY_CACHE") or str(USER_CACHE)
    env.update(extra)
    return env


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
