import subprocess
import sys

import pytest

from tfcanary import envs, matrix


def test_find_interpreter_finds_this_python():
    version = "%d.%d" % sys.version_info[:2]
    path = envs.find_interpreter(version)
    assert path is not None
    out = subprocess.run([path, "-c", "import sys; print(sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tuple(sys.version_info[:2]))


def test_find_interpreter_returns_none_for_a_missing_version():
    assert envs.find_interpreter("2.1") is None


def test_a_failing_install_returns_the_installers_message(tmp_path):
    """A real uv resolve that cannot succeed: no such TensorFlow version."""
    uv = envs.uv_binary()
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    entry = matrix.Entry("tf2.99", "2.99.*", "keras3")
    res = envs.install(entry, venv)
    assert not res.ok and not res.reused
    assert "tensorflow-cpu" in res.message
    assert not (venv / envs.MARKER).exists()
