"""The noxfile's environment sessions when things go wrong, with real nox and uv.

An install that fails is recorded and the other environments still run; a
missing interpreter is a clear skip, also on CI.  What the sessions decide is
tested without nox in test_sessions.py; these check the wiring.
"""

import os
import subprocess
import sys

import pytest

from tfcanary import results

from conftest import ROOT, nox_cmd

pytestmark = pytest.mark.e2e


def _run(args, tmp_path, **env):
    full_env = {**os.environ, **env}
    return subprocess.run(nox_cmd("--envdir", str(tmp_path / "envs"), *args), cwd=ROOT,
                          capture_output=True, text=True, env=full_env, timeout=600)


def test_a_failed_install_is_recorded_and_the_next_environment_still_runs(tmp_path):
    # uv offline with an empty cache cannot get tensorflow-cpu: a real installer failure.
    out = tmp_path / "results"
    proc = _run(["-s", "tf2.15", "tf2.16", "--", "--results-dir", str(out)], tmp_path,
                UV_OFFLINE="1", UV_CACHE_DIR=str(tmp_path / "empty-cache"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for label in ("tf2.15", "tf2.16"):
        doc = results.read(out / f"{label}.json")
        assert doc["status"] == "install-failed"
        assert "tensorflow-cpu" in doc["message"]
        assert doc["install"]["ok"] is False and doc["outcomes"] == []
    assert "tf2.16: install failed" in proc.stdout + proc.stderr
    assert "installed in" not in proc.stdout + proc.stderr   # the log says it failed, not "installed"
    assert "install failed in" in proc.stdout + proc.stderr


def test_the_summary_shows_install_failures(tmp_path):
    out = tmp_path / "results"
    results.write(out / "tf2.15.json", {
        "label": "tf2.15", "status": "install-failed", "env": {}, "install": {"ok": False},
        "message": "  x No solution found when resolving dependencies:\n  Because tensorflow-cpu was not found",
        "metadata": {}, "cases": [], "corpus_errors": [], "outcomes": []})
    proc = subprocess.run([*nox_cmd("-s", "summary", "--", "--results-dir", str(out))], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (out / "summary.txt").read_text()
    assert "tf2.15: install-failed: Because tensorflow-cpu was not found" in text
    # the other default environments have no results here: listed, not silently dropped
    assert "tf2.21: no results file" in text or "tf2.21: skipped" in text


def test_a_missing_interpreter_is_a_clear_skip_even_on_ci(tmp_path):
    proc = _run(["-s", "tf2.15", "--force-python", "3.99", "--", "--results-dir", str(tmp_path / "r")],
                tmp_path, CI="true")
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "skipped: Python interpreter 3.99 not found" in text
    assert not (tmp_path / "r" / "tf2.15.json").exists()


def test_a_python_uv_cannot_download_offline_is_a_clear_skip(tmp_path):
    """The sessions let uv provide a missing interpreter (download_python="auto"); offline, with no
    such Python on PATH nor among uv's managed builds, uv's attempt fails and nox skips."""
    path = os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"])
    proc = _run(["-s", "tf2.15", "--force-python", "3.12", "--", "--results-dir", str(tmp_path / "r")],
                tmp_path, CI="true", UV_OFFLINE="1", PATH=path, UV_PYTHON_INSTALL_DIR=str(tmp_path / "managed"))
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "Failed to install cpython-3.12" in text and "Network connectivity is disabled" in text
    assert "skipped: Python interpreter 3.12 not found" in text
    assert not (tmp_path / "r" / "tf2.15.json").exists()


def test_unknown_options_after_the_double_dash_are_an_error_naming_them(tmp_path):
    for bad in ("--selct=x", "--sellect"):
        proc = _run(["-s", "tf2.15", "--", "--select", "ok-id", bad], tmp_path)
        text = proc.stdout + proc.stderr
        assert proc.returncode == 1, text
        assert f"unknown ['{bad}']" in text, text
        assert "installing" not in text   # refused before anything is installed
