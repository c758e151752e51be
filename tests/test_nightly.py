"""The nightly CI's steps: the `nightly` branch, artifacts, the alert issue, freshness, and two
simulated nights end to end.

GitHub cannot be reached here: a local bare git repository stands in for it (the
branches), and tests/resources/fake_gh.py for the gh CLI (the issues).  Results in the
unit tests are small hand-built files (test_report.write_results); the end-to-end test
installs and probes real TensorFlow, tf-nightly and keras-nightly.
"""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from tfcanary import cli, matrix
from tfcanary.envs import asv as asvconf
from tfcanary.nightly import alert
from tfcanary.nightly import steps as nightly
from tfcanary.reports import check, freshness
from tfcanary.errors import UserError

from conftest import RESOURCES, ROOT
from test_report import OUTCOMES, outcome, write_results

PINS_1 = nightly.Pins("2026-11-21", (("keras-nightly", "3.16.0.dev2026102604"),
                                     ("tf-nightly", "2.23.0.dev20261025")))
PINS_2 = nightly.Pins("2026-11-22", (("keras-nightly", "3.16.0.dev2026102704"),
                                     ("tf-nightly", "2.23.0.dev20261026")))


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def _commit(cwd, name, text, message):
    (cwd / name).write_text(text)
    _git(cwd, "add", name)
    _git(cwd, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", message)
    return _git(cwd, "rev-parse", "HEAD")


@pytest.fixture
def github(tmp_path):
    """A bare repository standing in for GitHub, and a clone of its main branch."""
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = tmp_path / "work"
    _git(tmp_path, "clone", "-q", str(origin), str(work))
    _git(work, "checkout", "-q", "-b", "main")
    _commit(work, "a.txt", "one\n", "main 1")
    _git(work, "push", "-q", "origin", "main")
    return origin, work


# --- the nightly branch -------------------------------------------------------------------

def test_each_night_is_one_commit_on_top_of_the_last_and_main_is_never_written(github):
    origin, work = github
    main_1 = _git(work, "rev-parse", "HEAD")
    night_1 = nightly.advance(work, PINS_1, push=True)
    assert nightly.advance(work, PINS_1, push=True) == night_1        # a rerun adds no point
    main_2 = _commit(work, "a.txt", "two\n", "main 2")
    _git(work, "push", "-q", "origin", "main")
    night_2 = nightly.advance(work, PINS_2, push=True)
    assert _git(origin, "rev-parse", "main") == main_2                # only the developer's commits
    assert _git(origin, "rev-list", "--first-parent", "nightly").split() == [night_2, night_1, main_1]
    assert _git(origin, "rev-parse", f"{night_2}^2") == main_2        # tonight's code is main's
    assert _git(origin, "show", "nightly:a.txt") == "two"
    pins = _git(origin, "show", f"nightly:{nightly.PINS_FILE}")
    assert matrix.read_pins(work / "x") == {}
    (work / "pins").write_text(pins)
    assert matrix.read_pins(work / "pins") == dict(PINS_2.versions)
    assert _git(origin, "log", "-1", "--format=%an", "nightly") == nightly.BOT[0]


def test_a_night_pushed_from_elsewhere_is_built_upon_never_overwritten(github, tmp_path):
    origin, work = github
    nightly.advance(work, PINS_1, push=True)
    other = tmp_path / "other"
    _git(tmp_path, "clone", "-q", str(origin), str(other))
    theirs = nightly.advance(other, PINS_2, push=True)     # another runner's night
    _commit(work, "a.txt", "two\n", "main 2")
    mine = nightly.advance(work, PINS_2, push=True)       # fetches theirs first
    assert _git(origin, "rev-parse", "nightly") == mine
    assert _git(origin, "rev-parse", f"{mine}^1") == theirs


def test_pins_refuse_packages_other_than_the_nightlies():
    with pytest.raises(UserError, match="Expected requirements on tf-nightly or keras-nightly"):
        nightly.resolve_pins(requires=["tensorflow==2.21.0"])


def test_asv_publishes_the_nights_along_the_nightly_branch(tmp_path):
    shutil.copy(ROOT / "asv.conf.json", tmp_path / "asv.conf.json")
    conf = json.loads(nightly.asv_config(tmp_path, "nightly").read_text())
    assert conf["branches"] == ["nightly"] and conf["repo"] == ".."
    assert conf["matrix"] == asvconf.generate()["matrix"]     # the same environments


# --- artifacts ----------------------------------------------------------------------------

def _fake_asv(root, machine, sha, label):
    d = root / ".asv" / "results" / machine
    d.mkdir(parents=True, exist_ok=True)
    (d / "machine.json").write_text('{"machine": "%s"}' % machine)
    (d / f"{sha[:8]}-{asvconf.env_name(matrix.get(label))}.json").write_text('{"env": "%s"}' % label)
    (root / ".asv" / "results" / "benchmarks.json").write_text("{}")


def test_each_environment_stages_its_own_files_and_merge_joins_them(tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    for label in ("tf2.21", "nightly"):
        job = tmp_path / f"job-{label}"
        write_results(job / "results", outcomes={label: OUTCOMES["tf2.21"]})
        _fake_asv(job, "gha", sha, label)
        _fake_asv(job, "gha", "f" * 40, label)          # an older night: not tonight's artifact
        staged = nightly.stage(job, label, sha, tmp_path / "artifacts" / f"env-{label}")
        assert sorted(p.relative_to(tmp_path / "artifacts").as_posix() for p in staged) == sorted([
            f"env-{label}/results/{label}.json", f"env-{label}/asv-results/benchmarks.json",
            f"env-{label}/asv-results/gha/machine.json",
            f"env-{label}/asv-results/gha/{sha[:8]}-{asvconf.env_name(matrix.get(label))}.json"])
    merged = tmp_path / "merged"
    nightly.merge(tmp_path / "artifacts", merged / "results", merged / ".asv" / "results")
    assert sorted(p.name for p in (merged / "results").iterdir()) == ["nightly.json", "tf2.21.json"]
    assert len(list((merged / ".asv" / "results" / "gha").glob(f"{sha[:8]}-*.json"))) == 2


def test_merge_refuses_two_different_results_for_one_environment(tmp_path):
    write_results(tmp_path / "a" / "env-1" / "results", outcomes={"tf2.21": OUTCOMES["tf2.21"]})
    write_results(tmp_path / "a" / "env-2" / "results", outcomes={"tf2.21": OUTCOMES["tf2.15"]})
    with pytest.raises(UserError, match="Expected one results file per environment"):
        nightly.merge(tmp_path / "a", tmp_path / "results", tmp_path / "asv")
    with pytest.raises(UserError, match="not found"):
        nightly.merge(tmp_path / "missing", tmp_path / "results", tmp_path / "asv")


# --- the alert ----------------------------------------------------------------------------

def _check_reports(tmp_path, name, changed):
    """Run the real check on hand-built results: ``changed`` gives tf2.21 one transition."""
    snaps = tmp_path / "snapshots"
    if not snaps.exists():
        check.run([write_results(tmp_path / "base")], snaps, update_snapshots=True, echo=lambda s: None)
    rows = [outcome("alpha", "broken", "graph", "error", "builtins.RuntimeError", "new")
            if changed and (o["case"], o["mode"]) == ("alpha", "graph") and o["variant"] == "broken" else o
            for o in OUTCOMES["tf2.21"]]
    res = write_results(tmp_path / name / "results", outcomes={**OUTCOMES, "tf2.21": rows})
    reports = tmp_path / name / "reports"
    rc = check.run([res], snaps, junit=reports / "check.xml", markdown_out=reports / "check.md",
                   echo=lambda s: None)
    assert rc == (1 if changed else 0)
    return reports


def test_the_decision_table_open_update_close_nothing(tmp_path):
    bad = alert.read_check(_check_reports(tmp_path, "bad", True))
    clean = alert.read_check(_check_reports(tmp_path, "clean", False))
    assert bad.ran and len(bad.transitions) == 1 and "class-changed" in bad.transitions[0]
    assert clean.ran and clean.transitions == ()
    opened = alert.decide(bad, [])
    assert opened.kind == "open" and bad.markdown.strip() in opened.body
    same = alert.decide(bad, [{"number": 7, "body": opened.body}, {"number": 9, "body": opened.body}])
    assert (same.kind, same.issues, same.comment) == ("update", (7,), "")
    other = alert.decide(bad, [{"number": 7, "body": alert.MARKER.format("0" * 16)}])
    assert other.kind == "update" and other.comment.startswith("The transitions changed")
    assert alert.decide(clean, [{"number": 7, "body": opened.body}]).kind == "close"
    assert alert.decide(clean, []).kind == "nothing"
    assert alert.decide(alert.read_check(tmp_path / "nowhere"), [{"number": 7, "body": ""}]).kind == "nothing"


def test_the_issue_text_fits_github_and_carries_the_bisection(tmp_path):
    reports = _check_reports(tmp_path, "bad", True)
    (reports / "bisect").mkdir()
    (reports / "bisect" / "tf2.21--nightly.md").write_text("first bad: tf-nightly 2.23.0.dev20261026")
    outcome_ = alert.read_check(reports)
    assert "## Bisection" in alert.body(outcome_) and "first bad" in alert.body(outcome_)
    huge = alert.CheckOutcome(True, ("x",), "| row |\n" * 100_000)
    text = alert.body(huge, "https://example.invalid/run/1")
    assert len(text) <= alert.BODY_LIMIT and "cut at" in text and text.endswith(
        "closed by the first clean night.")


def test_three_nights_give_one_issue_updated_then_closed(tmp_path, monkeypatch, capsys):
    state = tmp_path / "gh.json"
    gh = tmp_path / "gh"
    gh.write_text(f"#!/bin/sh\nexec {sys.executable} {RESOURCES / 'fake_gh.py'} \"$@\"\n")
    gh.chmod(0o755)
    monkeypatch.setenv("FAKE_GH_STATE", str(state))
    monkeypatch.setenv("TFCANARY_GH", str(gh))
    for night, changed in (("n1", True), ("n2", True), ("n3", False), ("n4", False)):
        reports = _check_reports(tmp_path, night, changed)
        assert cli.main(["nightly", "alert", "--reports", str(reports), "--run-url", f"run/{night}"]) == 0
    issues = json.loads(state.read_text())["issues"]
    assert len(issues) == 1
    issue = issues[0]
    assert issue["state"] == "closed" and "tfcanary-nightly" in issue["labels"]
    assert "run/n2" in issue["body"] and "class-changed" in issue["body"]
    assert issue["comments"] == ["A clean night: no transitions (run/n3)."]
    out = capsys.readouterr().out.splitlines()
    assert [l.split(" (")[0] for l in out] == ["alert: open", "alert: update #1", "alert: close #1",
                                               "alert: nothing"]


# --- freshness ----------------------------------------------------------------------------

def test_max_age_fails_with_the_date_when_the_newest_results_are_older(tmp_path, capsys):
    res = write_results(tmp_path / "results")       # probed 2026-01-01
    now = dt.datetime(2026, 1, 4, tzinfo=dt.timezone.utc)
    assert freshness.newest(res) == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    assert "3.0 days old" in freshness.require_fresh(res, 4, now=now)
    with pytest.raises(UserError, match=r"2026-01-01 00:00 UTC, 3\.0 days old"):
        freshness.require_fresh(res, 2, now=now)
    snaps = tmp_path / "snapshots"
    check.run([res], snaps, update_snapshots=True, echo=lambda s: None)
    assert cli.main(["check", "--results", str(res), "--snapshots", str(snaps), "--max-age", "1"]) == 2
    err = capsys.readouterr().err
    assert "Expected results newer than 1 days" in err and "Is the nightly still running?" in err
    assert cli.main(["check", "--results", str(tmp_path / "empty"), "--snapshots", str(snaps),
                     "--max-age", "1"]) == 2
    assert "Received: none" in capsys.readouterr().err


def test_the_dashboard_banner_shows_the_newest_results(tmp_path):
    res = write_results(tmp_path / "results")
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<html><body><p>asv</p></body></html>")
    assert freshness.add_banner(html, res) == "Newest results: 2026-01-01 00:00 UTC"
    freshness.add_banner(html, res)                  # twice: still one banner
    page = (html / "index.html").read_text()
    assert page.count(freshness.BANNER_ID) == 1 and "2026-01-01 00:00 UTC" in page
    assert json.loads((html / "freshness.json").read_text()) == {
        "newest_results": "2026-01-01T00:00:00+00:00"}


# --- two nights end to end ----------------------------------------------------------------

E2E_SELECT = "python-if-on-tensor"
E2E_TIMER = "--processes 1 --max-processes 1 --repeats 5"
E2E_MACHINE = "e2e-runner"
E2E_BENCH = "Outcomes"     # asv runs each parameter in its own process: the per-case timings
                           # would take minutes; the outcome counts make the point per night


def _nox(cwd, *args, env=None, check=True):
    """A session of the checkout ``cwd`` as the workflow calls it; (exit status, output)."""
    proc = subprocess.run([sys.executable, "-m", "nox", "-f", str(cwd / "noxfile.py"), *args],
                          cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        pytest.fail(f"nox {' '.join(args)} exited {proc.returncode}:\n{(proc.stdout + proc.stderr)[-6000:]}")
    return proc.returncode, proc.stdout + proc.stderr


def _project_copy(dest):
    """The project as committed plus what is not committed yet: the repository GitHub would hold."""
    files = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


def _tonights_pins():
    """Two real, different nights from the index: the newest nightlies and the ones before."""
    newest = nightly.resolve_pins()
    before = nightly.resolve_pins(requires=[f"{name}<{version}" for name, version in newest.versions])
    return before, newest


def _night(tmp_path, n, pins, gh_env):
    """One night as the workflow runs it: pin -> one job per environment -> publish -> check -> alert."""
    runner = tmp_path / "runner"     # the environment jobs' checkout (a runner with a warm cache)
    if not runner.exists():
        _git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(runner))
        # This project's environments are the cache: nox's (.nox, shared with the other
        # end-to-end tests) and asv's (.asv/env).  Night 2 reinstalls `nightly` with its pins.
        for cache in (".nox", ".asv/env"):
            (ROOT / cache).mkdir(parents=True, exist_ok=True)
            (runner / cache).parent.mkdir(parents=True, exist_ok=True)
            (runner / cache).symlink_to(ROOT / cache, target_is_directory=True)
    _git(runner, "fetch", "-q", "origin")
    _git(runner, "checkout", "-q", "--detach", "origin/main")
    outputs = tmp_path / f"night{n}-outputs.txt"
    _nox(runner, "-s", "nightly-pin", "--", "--push", "--github-output", str(outputs),
         *[a for name, version in pins.versions for a in ("--require", f"{name}=={version}")])
    sha = dict(l.split("=", 1) for l in outputs.read_text().splitlines())["sha"]
    _git(runner, "checkout", "-q", "--detach", sha)
    artifacts = tmp_path / f"night{n}-artifacts"
    for label in ("tf2.21", "nightly"):
        _nox(runner, "-s", "nightly-env", "--", label, "--sha", sha, "--machine", E2E_MACHINE,
             "--select", E2E_SELECT, "--timer-args", E2E_TIMER, "--bench", E2E_BENCH,
             "--out", str(artifacts / f"env-{label}"))
    job = tmp_path / f"night{n}-publish"   # the publish/check/alert jobs: a fresh checkout of SHA
    _git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(job))
    _git(job, "checkout", "-q", "--detach", sha)
    envdir = ["--envdir", str(tmp_path / "job-envs")]
    _nox(job, *envdir, "-s", "nightly-merge", "--", str(artifacts))
    _nox(job, *envdir, "-s", "nightly-reports")
    _nox(job, *envdir, "-s", "nightly-publish", "--", "--push")
    rc, log = _nox(job, *envdir, "-s", "nightly-check", check=False)
    _, alert_log = _nox(job, *envdir, "-s", "nightly-alert", env=gh_env)
    return {"sha": sha, "job": job, "rc": rc, "log": log, "alert": alert_log}


@pytest.mark.e2e
def test_two_nights_of_the_nightly_against_a_local_github(tmp_path):
    started = time.monotonic()
    pins_1, pins_2 = _tonights_pins()
    assert dict(pins_1.versions)["tf-nightly"] != dict(pins_2.versions)["tf-nightly"]
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    dev = tmp_path / "dev"
    dev.mkdir()
    _project_copy(dev)
    _git(dev, "init", "-q", "-b", "main")
    _git(dev, "remote", "add", "origin", str(origin))
    _git(dev, "add", "-A")
    _git(dev, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "the project")
    _git(dev, "push", "-q", "origin", "main")
    gh = tmp_path / "gh"
    gh.write_text(f"#!/bin/sh\nexec {sys.executable} {RESOURCES / 'fake_gh.py'} \"$@\"\n")
    gh.chmod(0o755)
    gh_env = {"TFCANARY_GH": str(gh), "FAKE_GH_STATE": str(tmp_path / "gh.json")}
    try:
        # Night 1: the committed snapshots cover the whole corpus and the night probes one case,
        # so every other case is `removed`: transitions, exit 1, an alert opens.
        one = _night(tmp_path, 1, pins_1, gh_env)
        # The developer reviews and accepts the night's outcomes on main, as the README says.
        _git(dev, "pull", "-q", "origin", "main")
        for label in ("tf2.21", "nightly"):
            shutil.copy2(one["job"] / "results" / f"{label}.json", dev / "snapshots" / "in.json")
            subprocess.run([sys.executable, "-m", "tfcanary", "check", "--results",
                            str(dev / "snapshots" / "in.json"), "--snapshots", str(dev / "snapshots"),
                            "--update"], cwd=ROOT, check=True, capture_output=True)
        (dev / "snapshots" / "in.json").unlink()
        _git(dev, "add", "-A")
        _git(dev, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", "accept")
        _git(dev, "push", "-q", "origin", "main")
        # Night 2: other nightlies, the same outcomes: clean, exit 0, the alert closes.
        two = _night(tmp_path, 2, pins_2, gh_env)
    finally:
        shutil.rmtree(tmp_path / "job-envs", ignore_errors=True)   # the caches are symlinks: kept
    wall = time.monotonic() - started

    # The exit status is 1 exactly when the check's JUnit has transitions.
    for night, rc in ((one, 1), (two, 0)):
        failures = int(ET.parse(night["job"] / "reports" / "check.xml").getroot().get("failures"))
        assert night["rc"] == rc and (failures > 0) == (rc == 1), (rc, failures, night["log"][-3000:])
        assert (night["job"] / "reports" / "check.md").read_text().strip()
        for report in ("index.html", "upgrade-tf2.21-nightly.html"):
            assert (night["job"] / "reports" / report).is_file()
    # Each night installed its own pins, really.
    for night, pins in ((one, pins_1), (two, pins_2)):
        doc = json.loads((night["job"] / "results" / "nightly.json").read_text())
        assert doc["status"] == "ok"
        freeze = set(doc["metadata"]["pip_freeze"])
        assert {f"{name}=={version}" for name, version in pins.versions} <= freeze
    # main holds only the developer's commits; `nightly` has one commit per night on top.
    assert set(_git(origin, "log", "--format=%an", "main").split()) == {"dev"}
    assert _git(origin, "rev-list", "--first-parent", "-2", "nightly").split() == [two["sha"], one["sha"]]
    assert _git(origin, "rev-parse", f"{two['sha']}^2") == _git(origin, "rev-parse", "main")
    # The asv history: one result per night per environment, kept on asv-results.
    names = _git(origin, "ls-tree", "-r", "--name-only", "asv-results").split()
    envs = {asvconf.env_name(matrix.get(label)) for label in ("tf2.21", "nightly")}
    points = sorted(n for n in names if n.startswith(f"{E2E_MACHINE}/") and not n.endswith("machine.json"))
    assert points == sorted(f"{E2E_MACHINE}/{night['sha'][:8]}-{env}.json"
                            for night in (one, two) for env in envs)
    # The published HTML: asv's dashboards with both nights on the nightly branch, the banner,
    # the reports.
    pages = _git(origin, "ls-tree", "-r", "--name-only", "gh-pages").split()
    assert {"index.html", ".nojekyll", "reports/index.html", "reports/upgrade-tf2.21-nightly.html"} <= set(pages)
    assert freshness.BANNER_ID in _git(origin, "show", "gh-pages:index.html")
    graphs = [p for p in pages if p.startswith("graphs/") and "branch-nightly" in p
              and p.endswith("speed.Outcomes.track_outcomes.json")]
    assert len(graphs) == 2, graphs                       # one per environment
    for path in graphs:
        assert len(json.loads(_git(origin, "show", f"gh-pages:{path}"))) == 2   # one point per night
    # The alert: opened by night 1, closed by night 2, one issue.
    assert "alert: open" in one["alert"] and "alert: close #1" in two["alert"]
    issues = json.loads((tmp_path / "gh.json").read_text())["issues"]
    assert [i["state"] for i in issues] == ["closed"]
    print(f"two nights end to end: {wall:.0f} s")
