"""Test suites of their own on real TensorFlow, from an installed tfcanary, test by test as plain
pytest reports them.

- keras-self-attention 0.51.0 (MIT), a real open-source Keras layer library: its own test suite,
  unmodified, from its sdist on the package index (downloaded here, checked by its sha256,
  kept in .nox/sdists).  19 tests: all pass on tf2.15 and tf2.21-legacy, some fail on tf2.21.
- tests/resources/suite_demo: a package of its own and its tests: fixtures, parametrized tests,
  a unittest.TestCase, a module that imports a Keras 2 private path (collects on tf2.15 only),
  a test that calls os.abort() and one that sleeps past the timeout.

Each suite runs with ``tfcanary run --pytest`` (the ``installed`` fixture: tfcanary pip-installed,
run from a folder outside this repository, --with -e .), then with plain ``python -m pytest``
in the same environment; every test's status and exception class must agree.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time

import pytest

import _plain_pytest
from conftest import RESOURCES, ROOT, USER_CACHE, user_env
from tfcanary.envs import install

pytestmark = pytest.mark.e2e

KSA = ("keras-self-attention", "0.51.0", "77fce72b12d235722cbbcf7da5b3609b89ee212f5f07352945cc088e850900e9")
ENVS = ("tf2.15", "tf2.21", "tf2.21-legacy")
# Observed on 2026-11-30: the six save/load and real-former tests that Keras 3.15 breaks.
KSA_FAILING_ON_TF221 = 6


def _pip():
    """A pip to download with: this interpreter's, else the one on PATH, else uv's `uvx pip`."""
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode == 0:
        return [sys.executable, "-m", "pip"]
    if shutil.which("pip3"):
        return [shutil.which("pip3")]
    return [install.uv_binary(), "tool", "run", "pip"]


def sdist(name, version, sha256):
    """The sdist of ``name==version`` from the package index, checked against ``sha256``."""
    cache = ROOT / ".nox" / "sdists"
    cache.mkdir(parents=True, exist_ok=True)
    found = [p for p in cache.glob("*.tar.gz") if hashlib.sha256(p.read_bytes()).hexdigest() == sha256]
    if not found:
        proc = subprocess.run([*_pip(), "download", "--no-deps", "--no-binary", ":all:", f"{name}=={version}",
                               "-d", str(cache)], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        found = [p for p in cache.glob("*.tar.gz") if hashlib.sha256(p.read_bytes()).hexdigest() == sha256]
    assert found, f"no sdist of {name}=={version} with sha256 {sha256}"
    return found[0]


def _unpack(tarball, into):
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="data")
    [root] = [p for p in into.iterdir() if p.is_dir()]
    return root


def _tfcanary(tfcanary, cwd, *args, timeout=3600):
    t0 = time.monotonic()
    proc = subprocess.run([str(tfcanary), *args], cwd=cwd, env=user_env(), capture_output=True, text=True,
                          timeout=timeout)
    return proc, time.monotonic() - t0


def _env_python(label):
    return install.venv_python(USER_CACHE / "envs" / label)


def _plain(label, project, args):
    extra = {"TF_USE_LEGACY_KERAS": "1"} if label.endswith("-legacy") else {}
    found, proc = _plain_pytest.run(_env_python(label), project, args,
                                    env=user_env(TMPDIR=str(project.parent), **extra))
    return found


@pytest.fixture(scope="module")
def library(tmp_path_factory, installed):
    work = tmp_path_factory.mktemp("ksa")
    project = _unpack(sdist(*KSA), work)
    proc, wall = _tfcanary(installed, project, "run", "--pytest", "tests", *[a for e in ENVS for a in ("--env", e)],
                           "--with", "-e", ".")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {"project": project, "wall": wall, "log": proc.stdout + proc.stderr,
            "docs": {e: json.loads((project / "results" / f"{e}.json").read_text()) for e in ENVS}}


@pytest.mark.parametrize("label", ENVS)
def test_a_real_librarys_own_suite_is_recorded_as_plain_pytest_reports_it(library, label):
    mine = _plain_pytest.recorded(library["docs"][label])
    plain = _plain(label, library["project"], ["tests"])
    assert len(plain) >= 15
    assert mine == plain
    failing = sum(status == "error" for status, _ in mine.values())
    assert failing == (KSA_FAILING_ON_TF221 if label == "tf2.21" else 0), mine
    doc = library["docs"][label]
    assert doc["pytest"]["version"] and doc["status"] == "ok"


def test_the_upgrade_verdict_counts_the_suites_tests(library, installed):
    proc, _ = _tfcanary(installed, library["project"], "upgrade", "tf2.15", "tf2.21")
    assert proc.returncode == 0, proc.stderr
    md = (library["project"] / "reports" / "upgrade-tf2.15-tf2.21.md").read_text()
    assert f"tf2.15 → tf2.21: high risk — {KSA_FAILING_ON_TF221} of 19 tests newly fail in tf2.21" in md
    legacy, _ = _tfcanary(installed, library["project"], "upgrade", "tf2.15", "tf2.21-legacy")
    assert "no change in outcomes" in (library["project"] / "reports" / "upgrade-tf2.15-tf2.21-legacy.md").read_text()


def test_bisect_names_the_keras_release_that_fixed_a_test_checked_with_plain_pytest(library, installed, tmp_path):
    """With TensorFlow 2.16.2 held, test_real_former's test_sample fails on Keras 3.3.3 and passes
    on 3.4.1: bisect, from the installed tfcanary with --with -e ., names the release, and plain
    pytest in the two neighbouring environments agrees."""
    test = ("tests/scaled_dot_attention/test_real_former.py::TestResidualScaledDotProductAttention::test_sample")
    a, b = "tensorflow-cpu==2.16.2,keras==3.3.3", "tensorflow-cpu==2.16.2,keras==3.4.1"
    proc, wall = _tfcanary(installed, library["project"], "bisect", a, b, "--pytest", "tests", "--with", "-e", ".",
                           "--case", test, "--variant", "test", "--mode", "pytest", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-4000:]
    [path] = tmp_path.glob("*.json")
    doc = json.loads(path.read_text())
    [t] = doc["transitions"]
    assert t["state"] == "found", t
    before, first = doc["path"][t["before"]]["pins"], doc["path"][t["first"]]["pins"]
    assert (before["keras"], first["keras"]) == ("3.3.3", "3.4.0"), doc["path"]
    assert t["line"] in proc.stdout and "first in keras 3.4.0 (3.3.3 before it" in t["line"]
    for pins, status in ((before, "error"), (first, "ok")):
        venv = next(p for p in (USER_CACHE / "envs" / "bisect").iterdir()
                    if f"keras-{pins['keras']}-with-" in p.name and "tensorflow-cpu-2.16.2" in p.name)
        found, _ = _plain_pytest.run(install.venv_python(venv), library["project"], [test],
                                     env=user_env(TMPDIR=str(tmp_path)))
        assert found[test][0] == status, (pins, found)
    print(f"bisect of one test over Keras 3.3.3 -> 3.4.1: {wall:.0f} s, "
          f"{doc['environments_probed']} environments probed")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, installed):
    project = tmp_path_factory.mktemp("demo") / "demolayers-repo"
    shutil.copytree(RESOURCES / "suite_demo", project)
    proc, wall = _tfcanary(installed, project, "run", "--pytest", "tests", "--env", "tf2.15", "--env", "tf2.21",
                           "--with", "-e", ".", "--timeout", "20")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return {"project": project, "log": proc.stderr,
            "docs": {e: json.loads((project / "results" / f"{e}.json").read_text()) for e in ("tf2.15", "tf2.21")}}


FAULTS = ["tests/test_faults.py::test_aborts", "tests/test_faults.py::test_hangs"]


@pytest.mark.parametrize("label", ["tf2.15", "tf2.21"])
def test_a_suites_faults_fixtures_and_unittest_classes_on_real_tensorflow(demo, label):
    o = {x["case"]: x for x in demo["docs"][label]["outcomes"]}
    assert o[FAULTS[0]]["status"] == "crash" and "SIGABRT" in o[FAULTS[0]]["reason"]
    assert o[FAULTS[1]]["status"] == "timeout"
    assert o["tests/test_faults.py::test_after_the_faults"]["status"] == "ok"
    assert o["tests/test_layers.py::test_fixtures_are_shared_as_pytest_shares_them"]["status"] == "ok"
    assert {"tests/test_layers.py::test_projection_shape[1]", "tests/test_layers.py::test_projection_shape[3]",
            "tests/test_layers.py::TestScaleUnittest::test_scale_by_one"} <= set(o)
    mine = _plain_pytest.recorded(demo["docs"][label])
    for fault in FAULTS:
        mine.pop(fault)
    assert mine == _plain(label, demo["project"], ["tests", *[f"--deselect={f}" for f in FAULTS]])


def test_a_module_that_imports_keras_2s_private_path_stops_collecting_on_keras_3(demo, installed):
    k2 = {x["case"]: x for x in demo["docs"]["tf2.15"]["outcomes"]}
    k3 = {x["case"]: x for x in demo["docs"]["tf2.21"]["outcomes"]}
    assert k2["tests/test_private_api.py::test_base_layer_is_a_class"]["status"] == "ok"
    module = k3["tests/test_private_api.py"]
    assert (module["mode"], module["exc_type"]) == ("collect", "ModuleNotFoundError")
    assert module["frame"] == "tests/test_private_api.py:3 in <module>"
    # Keras 3 refuses add_weight's name passed positionally: in the package, not in the test
    shape = k3["tests/test_layers.py::test_projection_shape[1]"]
    assert shape["exc_type"] == "ValueError" and shape["frame"].startswith("demolayers/layers.py:")
    proc, _ = _tfcanary(installed, demo["project"], "upgrade", "tf2.15", "tf2.21")
    assert proc.returncode == 0, proc.stderr
    md = (demo["project"] / "reports" / "upgrade-tf2.15-tf2.21.md").read_text()
    assert re.search(r"`tests/test_private_api.py::test_base_layer_is_a_class` · test — stopped-collecting", md)
    assert "(1 no longer collects)" in md.split("\n", 3)[2]
    assert "[" in demo["log"] and "tests, " in demo["log"]          # progress lines were shown
