import subprocess
import sys

import pytest

from tfcanary import matrix
from tfcanary.envs import install as envs


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


def test_cache_dir_follows_the_variable_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("TFCANARY_CACHE", str(tmp_path / "c"))
    assert envs.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("TFCANARY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert envs.cache_dir() == tmp_path / "x" / "tfcanary"


def test_make_venv_creates_a_working_interpreter_once(tmp_path):
    version = "%d.%d" % sys.version_info[:2]
    python = envs.make_venv(tmp_path / "v", version)
    out = subprocess.run([str(python), "-c", "import sys; print(sys.prefix)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tmp_path / "v")
    assert envs.make_venv(tmp_path / "v", version) == python
    with pytest.raises(FileNotFoundError, match="Python interpreter 2.1 not found"):
        envs.make_venv(tmp_path / "w", "2.1")
