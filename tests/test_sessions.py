"""What the noxfile's sessions decide, without nox: their options and the tfcanary commands they run."""

import pytest

from tfcanary import matrix
from tfcanary.envs import sessions
from tfcanary.errors import UsageError

from conftest import ROOT


def _opts(*posargs, invoked_from=None, env=False):
    parse = sessions.env_options if env else sessions.parse
    return parse(list(posargs), invoked_from, ROOT)


def test_an_unknown_option_is_an_error_naming_it():
    for bad in ("--selct=x", "--sellect"):
        with pytest.raises(UsageError, match=rf"unknown \['{bad}'\]"):
            _opts("--select", "ok-id", bad)
    with pytest.raises(UsageError, match=r"Received: \['bogus'\]"):
        _opts("bogus", env=True)


def test_paths_are_relative_to_where_nox_was_started(tmp_path):
    (tmp_path / "mine").mkdir()
    opts = _opts("--cases", "mine", "--results-dir", "out", invoked_from=str(tmp_path), env=True)
    assert opts.cases == [tmp_path / "mine"] and opts.results_dir == tmp_path / "out"
    with pytest.raises(UsageError, match=f"Received: {tmp_path / 'nope'} \\(not found\\)"):
        _opts("--cases", "nope", invoked_from=str(tmp_path), env=True)


def test_an_environment_session_runs_tfcanary_run_in_noxs_environment():
    entry = matrix.get("tf2.15")
    args = sessions.run_args(entry, _opts("gpu", "--select", "x*", "--jobs", "1", env=True), "/v/tf2-15", ROOT)
    assert args[:4] == ["run", "--env", "tf2.15", "--venv"] and "--no-report" in args
    assert args[args.index("--cases") + 1] == str(ROOT / "cases")
    assert args[args.index("--snapshots") + 1] == str(ROOT / "snapshots")   # the repo's own corpus
    assert ["--select", "x*"] == args[args.index("--select"):args.index("--select") + 2]
    assert "--gpu" in args and "--jobs" in args and "--shuffle" not in args and "--pins" not in args


def test_a_users_corpus_keeps_its_own_snapshots_and_the_nightly_takes_the_pins(tmp_path):
    (tmp_path / "mine").mkdir()
    opts = _opts("--cases", str(tmp_path / "mine"), env=True)
    args = sessions.run_args(matrix.get("nightly"), opts, "/v/nightly", ROOT)
    assert "--snapshots" not in args
    pinned = (ROOT / sessions.PINS_FILE).exists()
    assert ("--pins" in args) == pinned


def test_an_environment_session_runs_a_suite_from_where_nox_was_started(tmp_path):
    (tmp_path / "tests").mkdir()
    opts = _opts("--pytest", "tests", "--pytest-args", "-m 'not slow'", "--no-reset",
                 invoked_from=str(tmp_path), env=True)
    assert opts.invoked_from == tmp_path
    args = sessions.run_args(matrix.get("tf2.21"), opts, "/v/tf2-21", ROOT)
    assert "--cases" not in args and "--snapshots" not in args       # the suite, not cases/
    assert args[args.index("--pytest") + 1] == "tests" and "--no-reset" in args
    assert args[args.index("--pytest-args") + 1] == "-m 'not slow'"
    with pytest.raises(UsageError, match="Expected --pytest to name test files"):
        _opts("--pytest", "nope", invoked_from=str(tmp_path), env=True)


def test_report_sessions_read_the_speedups_the_speed_session_wrote(tmp_path):
    (tmp_path / "speed").mkdir()
    (tmp_path / "speed" / "speedups.csv").write_text("env,case\n")
    opts = _opts("--results-dir", str(tmp_path))
    assert sessions.report_args("report", opts, ROOT)[-2:] == ["--speedups", str(tmp_path / "speed" / "speedups.csv")]
    with pytest.raises(UsageError, match="Expected two environments"):
        sessions.report_args("upgrade", opts, ROOT)
    up = sessions.report_args("upgrade", _opts("tf2.15", "tf2.21"), ROOT)
    assert up[:3] == ["upgrade", "tf2.15", "tf2.21"]
    check = sessions.report_args("check", _opts("--update"), ROOT)
    assert check[-1] == "--update" and "--snapshots" not in check


def test_the_speed_session_times_noxs_environments_and_forwards_timer_options():
    runs = sessions.speed_args(["tf2.15", "tf2.21", "--processes", "5", "--select", "workload-*"], ROOT)
    assert [r[r.index("--env") + 1] for r in runs] == ["tf2.15", "tf2.21"]
    first = runs[0]
    assert first[first.index("--venv") + 1] == str(ROOT / ".nox" / "tf2-15")
    assert {"--speed", "--no-probe", "--no-report"} <= set(first)
    assert first[first.index("--timer-args") + 1] == "--processes 5"
    assert first[first.index("--workloads") + 1] == str(ROOT / "workloads")
    assert len(sessions.speed_args([], ROOT)) == len(matrix.default())
    with pytest.raises(UsageError, match="nox -s speed"):
        sessions.speed_args(["--procesess", "5"], ROOT)


def test_the_bisect_session_passes_tfcanary_bisect_its_options():
    args = sessions.bisect_args(["tf2.16", "tf2.21", "--high-risk"], ROOT)
    assert args[:4] == ["bisect", "tf2.16", "tf2.21", "--high-risk"]
    assert args[-2:] == ["--cases", str(ROOT / "cases")]
    own = sessions.bisect_args(["a", "b", "--cases", "mine"], ROOT)
    assert own.count("--cases") == 1
    with pytest.raises(UsageError, match="Expected two environments"):
        sessions.bisect_args(["tf2.16"], ROOT)
