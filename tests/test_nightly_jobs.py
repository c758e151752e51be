"""The nightly's jobs and steps without nox: the reports, the check, and the options a
repository of one's own layers uses, on hand-built results.

(The environment job builds a real environment: tests/test_nightly.py and
tests/test_user_nightly.py run it end to end.)
"""

import json

from tfcanary import cli, matrix
from tfcanary.nightly import jobs, steps
from tfcanary.reports import check

from test_report import OUTCOMES, outcome, write_results

PINS = {"keras-nightly": "3.16.0.dev2026102604", "tf-nightly": "2.23.0.dev20261025"}


def test_the_reports_of_a_night_summary_matrix_and_the_pairs_upgrade(tmp_path):
    res = write_results(tmp_path / "results", outcomes={"tf2.21": OUTCOMES["tf2.21"],
                                                        "nightly": OUTCOMES["tf2.15"]})
    lines = []
    assert jobs.reports(res, tmp_path / "reports", echo=lines.append) == 0
    assert (res / "summary.txt").read_text().startswith("environment")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "index.html", "upgrade-tf2.21-nightly.html", "upgrade-tf2.21-nightly.md"]
    assert 'href="upgrade-tf2.21-nightly.html"' in (tmp_path / "reports" / "index.html").read_text()
    only_one = write_results(tmp_path / "one", outcomes={"tf2.21": OUTCOMES["tf2.21"]})
    jobs.reports(only_one, tmp_path / "reports-one", echo=lines.append)
    assert sorted(p.name for p in (tmp_path / "reports-one").iterdir()) == ["index.html"]


def _night(tmp_path, changed):
    snaps = tmp_path / "snapshots"
    if not snaps.exists():
        check.run([write_results(tmp_path / "base", outcomes={"tf2.21": OUTCOMES["tf2.21"]})], snaps,
                  update_snapshots=True, echo=lambda s: None)
    rows = [outcome("alpha", "broken", "graph", "error", "builtins.RuntimeError", "new")
            if changed and (o["case"], o["variant"], o["mode"]) == ("alpha", "broken", "graph") else o
            for o in OUTCOMES["tf2.21"]]
    name = "changed" if changed else "clean"
    return write_results(tmp_path / name, outcomes={"tf2.21": rows}), snaps


def test_the_check_fails_the_night_on_transitions_and_writes_the_step_summary(tmp_path):
    res, snaps = _night(tmp_path, changed=True)
    summary = tmp_path / "step-summary.md"
    rc = jobs.check(res, snaps, tmp_path / "reports", cases=[], step_summary=str(summary), echo=lambda s: None)
    assert rc == 1
    assert "class-changed" in summary.read_text()
    assert (tmp_path / "reports" / "check.xml").exists()
    clean, _ = _night(tmp_path, changed=False)
    assert jobs.check(clean, snaps, tmp_path / "reports-clean", cases=[], echo=lambda s: None) == 0


def test_a_bisection_that_cannot_run_does_not_hide_the_checks_answer(tmp_path):
    """Both ends of the pair have results, but their package lists name no TensorFlow: the
    bisection stops at once (a real UserError from its endpoints); the check still fails."""
    res, snaps = _night(tmp_path, changed=True)
    doc = json.loads((res / "tf2.21.json").read_text())
    (res / "nightly.json").write_text(json.dumps({**doc, "label": "nightly"}))
    said = []
    rc = jobs.check(res, snaps, tmp_path / "reports", cases=[], echo=said.append)
    assert rc == 1
    assert any(line.startswith("bisect tf2.21 -> nightly failed: Expected a TensorFlow package")
               for line in said), said
    assert not (tmp_path / "reports" / "bisect").exists()


# --- the options a repository of one's own layers uses (the reusable workflow) ---------------

def test_the_matrix_of_chosen_environments_is_checked_and_written_for_github(tmp_path, capsys):
    out = tmp_path / "github-output"
    assert cli.main(["nightly", "matrix", "--env", "tf2.21", "--env", "nightly", "--env", "tf2.21",
                     "--github-output", str(out)]) == 0
    assert json.loads(capsys.readouterr().out) == ["tf2.21", "nightly"]
    assert out.read_text() == 'envs=["tf2.21", "nightly"]\n'
    assert cli.main(["nightly", "matrix", "--env", "tf2.99"]) == 2
    assert "tf2.99" in capsys.readouterr().err


def test_pins_without_a_branch_are_a_file_that_run_reads_and_no_git_is_touched(tmp_path, capsys):
    """The index resolves two exact nightlies (it is reachable here); nothing else happens."""
    out = tmp_path / "github-output"
    requires = [a for name, version in PINS.items() for a in ("--require", f"{name}=={version}")]
    assert cli.main(["nightly", "pin", "--root", str(tmp_path), "--no-branch", "--write",
                     str(tmp_path / "pins" / "nightly-pins.txt"), "--github-output", str(out), *requires]) == 0
    assert matrix.read_pins(tmp_path / "pins" / "nightly-pins.txt") == PINS
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert json.loads(outputs["pins"]) == PINS and "sha" not in outputs
    assert not (tmp_path / ".git").exists() and "nightly ->" not in capsys.readouterr().out


def test_stage_without_a_commit_takes_the_results_and_speed_files_only(tmp_path):
    res = write_results(tmp_path / "results", outcomes={"nightly": OUTCOMES["tf2.21"]})
    (res / "speed").mkdir()
    (res / "speed" / "nightly.json").write_text("{}")
    staged = steps.stage(tmp_path, "nightly", None, tmp_path / "artifact")
    assert sorted(p.relative_to(tmp_path / "artifact").as_posix() for p in staged) == [
        "results/nightly.json", "results/speed/nightly.json"]


def test_the_reports_of_another_pair_go_to_the_step_summary(tmp_path):
    res = write_results(tmp_path / "results")            # tf2.15 and tf2.21, no nightly
    summary = tmp_path / "step-summary.md"
    said = []
    jobs.reports(res, tmp_path / "reports", step_summary=str(summary), echo=said.append)
    assert "no upgrade report tf2.21 -> nightly: results of nightly missing" in said
    assert not summary.exists()
    assert cli.main(["nightly", "reports", "--results-dir", str(res), "--reports", str(tmp_path / "r2"),
                     "--pair", "tf2.15", "tf2.21"]) == 0
    assert (tmp_path / "r2" / "upgrade-tf2.15-tf2.21.md").is_file()
    jobs.reports(res, tmp_path / "r3", pair=("tf2.15", "tf2.21"), step_summary=str(summary), echo=said.append)
    assert summary.read_text().startswith("# Upgrade risk: `tf2.15` → `tf2.21`")


def test_the_checks_bisection_is_tfcanary_bisect_with_the_users_options(tmp_path, monkeypatch, capsys):
    """Snapshots come from where the results say; --with, --pytest and --pytest-args reach
    `tfcanary bisect` as they are (the hand-built results name no TensorFlow, so it stops there)."""
    res, snaps = _night(tmp_path, changed=True)
    doc = json.loads((res / "tf2.21.json").read_text())
    doc["corpus"] = {"paths": ["cases"], "snapshots": str(snaps), "with": ["-e ."]}
    (res / "tf2.21.json").write_text(json.dumps(doc))
    (res / "nightly.json").write_text(json.dumps({**doc, "label": "nightly"}))
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["nightly", "check", "--results-dir", str(res), "--reports", "reports", "--cases", "cases",
                   "--with", "-e .", "--pytest", "tests/", "--pytest-args", "-x -q"])
    out = capsys.readouterr().out
    assert rc == 1 and (tmp_path / "reports" / "check.xml").is_file()
    assert (f"$ tfcanary bisect tf2.21 nightly --results {res} --high-risk --cases cases --with '-e .' "
            "--pytest tests/ '--pytest-args=-x -q'") in out
    assert "bisect tf2.21 -> nightly failed: " in out
