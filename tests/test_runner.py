"""tfcanary run and tfcanary envs, the parts that need no TensorFlow.

What they do with real environments is tests/test_user_corpus.py (e2e).
"""

import json
import shutil
import subprocess
import sys

import pytest

from tfcanary import results
from tfcanary.envs import cache as envcache
from tfcanary.envs import install as envs
from tfcanary.envs import runner as userrun
from tfcanary.errors import UserError

from conftest import ROOT


def test_with_specs_become_install_arguments_with_absolute_paths(tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy\n")
    args = envs.with_install_args(["-e .", "-r requirements.txt", "mypkg==1.2",
                                   "git+https://example.org/x.git"], tmp_path)
    assert args == ["-e", str(tmp_path.resolve()), "-r", str((tmp_path / "requirements.txt").resolve()),
                    "mypkg==1.2", "git+https://example.org/x.git"]


def test_an_editable_project_reinstalls_when_its_metadata_changes(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'a'\n")
    args = ["-e", str(tmp_path)]
    before = envs.with_fingerprint(args)
    (tmp_path / "code.py").write_text("x = 1\n")          # code stays live in an editable install
    assert envs.with_fingerprint(args) == before
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'a'\ndependencies = ['numpy']\n")
    assert envs.with_fingerprint(args) != before


def test_results_record_the_corpus_relative_and_no_path_of_the_users_machine(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    out = tmp_path / "results" / "tf2.15.json"
    results.write(out, {"label": "tf2.15", "status": "ok", "env": {}, "metadata": {"pip_freeze": [
        f"-e file://{tmp_path}"]}, "install": {"command": [envs.uv_binary(), "-e", str(tmp_path)]},
        "cases": [], "corpus_errors": [], "outcomes": [{
            "case": "c", "variant": "broken", "mode": "eager", "status": "error",
            "message": f'File "{tmp_path}/mycompany/layers.py", line 3'}]})
    userrun.stamp_corpus(out, [cases], None, tmp_path, ["-e ."])
    doc = results.read(out)
    assert doc["corpus"] == {"paths": ["cases"], "snapshots": "cases/snapshots", "with": ["-e ."]}
    assert str(tmp_path) not in json.dumps(doc)
    assert doc["outcomes"][0]["message"] == 'File "./mycompany/layers.py", line 3'
    assert doc["install"]["command"] == ["uv", "-e", "."]     # not where this tfcanary's uv lives


def test_envs_lists_cached_environments_with_size_and_removes_them(tmp_path, monkeypatch):
    monkeypatch.setenv(envs.CACHE_ENV_VAR, str(tmp_path))
    assert "none (tfcanary run builds them)" in envcache.render(envcache.entries())
    site = tmp_path / "envs" / "tf2.15" / "lib" / "python3.11" / "site-packages"
    (site / "tensorflow_cpu-2.15.1.dist-info").mkdir(parents=True)
    (site / "keras-2.15.0.dist-info").mkdir()
    (site / "blob").write_bytes(b"x" * 3 * 1024 * 1024)
    (tmp_path / "envs" / "tf2.15" / envs.MARKER).write_text(json.dumps({"with": ["-e /p"]}))
    (found,) = envcache.entries()
    assert (found.label, found.python, found.tensorflow, found.keras) == ("tf2.15", "3.11", "2.15.1", "2.15.0")
    assert found.size_bytes >= 3 * 1024 * 1024 and found.with_specs == ["-e /p"]
    text = envcache.render([found])
    assert "3.0 MiB" in text and "-e /p" in text
    with pytest.raises(UserError, match="Received: 'tf2.16'"):
        envcache.remove(["tf2.16"])
    (tmp_path / "envs" / "bisect" / "py3.11-a").mkdir(parents=True)
    (tmp_path / "envs" / "bisect" / "py3.11-a" / "pyvenv.cfg").write_text("")
    bisect = [e for e in envcache.entries() if e.label == "bisect"]
    assert [(e.python, e.tensorflow) for e in bisect] == [("-", "1 environment")]
    shutil.rmtree(tmp_path / "envs" / "bisect")
    assert envcache.remove(["tf2.15"]) == [tmp_path / "envs" / "tf2.15"]
    assert envcache.entries() == []


def test_run_refuses_a_missing_case_folder_before_building_anything(tmp_path):
    env = {"TFCANARY_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "run", "--cases", "nope", "--env", "tf2.15"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "Expected --cases to name a folder of case modules" in proc.stderr and "not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "cache" / "envs").exists()
