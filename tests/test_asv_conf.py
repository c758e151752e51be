"""asv.conf.json agrees with the matrix; the asv benchmarks import no TensorFlow."""

import itertools
import re
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from tfcanary import matrix
from tfcanary.envs import asv as asvconf


def test_asv_conf_is_generated_from_the_matrix():
    assert (ROOT / "asv.conf.json").read_text(encoding="utf-8") == asvconf.render(asvconf.generate()), \
        "asv.conf.json is stale: run `PYTHONPATH=src python -m tfcanary.envs.asv`"


def test_each_matrix_entry_has_its_own_pair_of_axis_values():
    pairs = [asvconf.axes(e) for e in matrix.full()]
    assert len(set(pairs)) == len(pairs)
    for e in matrix.full():
        assert asvconf.entry_for(*asvconf.axes(e)) == e
    assert asvconf.axes(matrix.get("tf2.15")) == ("2.15", "keras2")
    assert asvconf.axes(matrix.get("tf2.21")) == ("2.21", "keras3-latest")
    assert asvconf.axes(matrix.get("tf2.21-legacy")) == ("2.21", "tf-keras")
    assert asvconf.axes(matrix.get("nightly")) == ("nightly", "keras-nightly")


def test_an_unknown_pair_names_what_was_received():
    with pytest.raises(matrix.MatrixError, match="TFCANARY_TF='2.15', TFCANARY_KERAS='tf-keras'"):
        asvconf.entry_for("2.15", "tf-keras")


def _surviving_pairs(conf):
    """The (tf, keras) combinations asv keeps: the product minus the exclude rules
    (asv matches each rule value as a regular expression on the whole value)."""
    env = conf["matrix"]["env"]
    keep = []
    for tf, keras in itertools.product(env[asvconf.TF_VAR], env[asvconf.KERAS_VAR]):
        target = {asvconf.TF_VAR: tf, asvconf.KERAS_VAR: keras}
        if not any(all(re.fullmatch(v, target[k]) for k, v in rule["env"].items())
                   for rule in conf["exclude"]):
            keep.append((tf, keras))
    return keep


def test_the_asv_matrix_is_exactly_the_tfcanary_matrix():
    conf = asvconf.read()
    assert sorted(_surviving_pairs(conf)) == sorted(asvconf.axes(e) for e in matrix.full())


def test_results_and_html_live_under_dot_asv_and_uv_installs():
    conf = asvconf.read()
    assert conf["results_dir"] == ".asv/results" and conf["html_dir"] == ".asv/html"
    assert conf["env_dir"] == ".asv/env"
    assert (ROOT / conf["benchmark_dir"] / "__init__.py").exists()


def test_asvs_install_command_runs_the_checkouts_installer():
    util = pytest.importorskip("asv.util")
    conf = asvconf.read()
    for command, verb in ((conf["install_command"][0], "install"), (conf["uninstall_command"][0], "uninstall")):
        args, env, _codes, cwd = util.interpolate_command(command, {"build_dir": str(ROOT)})
        assert cwd == f"{ROOT}/src" and env == {}      # asv drops PYTHONPATH: python -m from src/
        assert args[:3] == ["python", "-m", "tfcanary.envs.asv"] and args[3] == verb


def test_matches_asv_itself_when_asv_is_installed():
    asv_env = pytest.importorskip("asv.environment")
    from asv import config

    conf = config.Config.from_json(asvconf.read())
    names = sorted(env.name for env in asv_env.get_environments(conf, None, verbose=False))
    assert names == sorted(asvconf.env_name(e) for e in matrix.full())


def test_installer_rejects_bad_usage_and_writes_nothing(tmp_path):
    before = asvconf.CONF.read_text()
    for bad in (["install"], ["install", "a", "b"], ["--chek"]):
        proc = subprocess.run([sys.executable, "-m", "tfcanary.envs.asv", *bad], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        assert proc.returncode == 2 and "usage" in proc.stderr
    assert asvconf.CONF.read_text() == before


def test_benchmarks_import_without_tensorflow_and_name_their_units():
    code = ("import sys; sys.path.insert(0, 'src'); sys.path.insert(0, '.');"
            "import benchmarks.speed as b;"
            "print('tensorflow' in sys.modules, len(b.Speed.params));"
            "print(sorted(n for n in dir(b.Speed) if n.startswith('track_')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    first, tracks = out.stdout.splitlines()
    assert first.split()[0] == "False" and int(first.split()[1]) > 5
    assert "track_graph_over_eager" in tracks
    sys.path.insert(0, str(ROOT))
    try:
        import benchmarks.speed as b
    finally:
        sys.path.remove(str(ROOT))
    for name in dir(b.Speed):
        if name.startswith("track_"):
            assert getattr(b.Speed, name).unit
    s = {"c": {"ratio_graph": 4.0, "ratio_xla": 2.0, "eager_median_s": 0.002,
               "graph_median_s": 0.0005, "xla_median_s": 0.001, "trace_s": 0.1, "compile_s": None}}
    assert b.Speed().track_graph_over_eager(s, "c") == 0.25   # up = graph gains less
    assert b.Speed().track_eager_ms(s, "c") == 2.0
    with pytest.raises(NotImplementedError):
        b.Speed().track_xla_compile_s(s, "c")
    with pytest.raises(NotImplementedError):
        b.Speed().setup({"c": {"ratio_graph": None}}, "c")
