import os
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


@pytest.mark.parametrize("setting, reason", [("UV_OFFLINE", "offline"), ("UV_PYTHON_DOWNLOADS", "'never'")])
def test_a_python_missing_here_is_asked_of_uv_and_a_clear_skip_when_uv_cannot_provide_it(
        tmp_path, monkeypatch, setting, reason):
    """Python 3.12 is on neither this PATH nor in uv's (empty) folder of managed builds: uv is asked
    for one of its downloads, which these settings forbid; the error names the version and why."""
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(envs.uv_binary()), "/usr/bin", "/bin"]))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "managed"))
    monkeypatch.setenv(setting, "1" if setting == "UV_OFFLINE" else "never")
    if envs.find_interpreter("3.12") is not None:
        pytest.skip("Python 3.12 is installed on this PATH")
    with pytest.raises(FileNotFoundError) as info:
        envs.make_venv(tmp_path / "v", "3.12")
    message = str(info.value)
    assert message.startswith("Python interpreter 3.12 not found, and uv could not provide one (")
    assert "managed Python download is available" in message and reason in message
    assert not (tmp_path / "v").exists()


def test_tfcanary_run_skips_an_environment_whose_python_cannot_be_had(tmp_path, monkeypatch):
    from tfcanary.envs import runner

    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(envs.uv_binary()), "/usr/bin", "/bin"]))
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "managed"))
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv(envs.CACHE_ENV_VAR, str(tmp_path / "cache"))
    if envs.find_interpreter("3.12") is not None:
        pytest.skip("Python 3.12 is installed on this PATH")
    entry = matrix.Entry("tf2.15", "2.15.*", "keras2", python="3.12")
    lines = []
    rc = runner.run_env(entry, tmp_path / "cache" / "envs" / "tf2.15", runner.RunOptions(), [tmp_path],
                        [], [], tmp_path / "results", tmp_path, None, lines.append)
    assert rc == 1
    assert lines == [lines[0]] and lines[0].startswith("tf2.15: skipped: Python interpreter 3.12 not found, "
                                                       "and uv could not provide one")
    assert not (tmp_path / "results").exists()
