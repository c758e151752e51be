"""``tfcanary init-ci``: the caller workflow it writes, what it refuses, where its pin comes from.

zizmor's verdict on what it writes is in tests/test_workflows.py; the written caller
drives the reusable workflow end to end in tests/test_user_nightly.py.
"""

import json

import pytest
import yaml

from tfcanary import cli
from tfcanary.nightly import init_ci

from conftest import ROOT

SHA = "0123456789abcdef0123456789abcdef01234567"
REUSABLE = ROOT / init_ci.REUSABLE


def _inputs():
    doc = yaml.safe_load(REUSABLE.read_text(encoding="utf-8"))
    return doc.get("on", doc.get(True))["workflow_call"]["inputs"]


def _init(tmp_path, *args):
    return cli.main(["init-ci", "--repo", "example/tfcanary", "--ref", SHA, *args])


@pytest.fixture
def repo(tmp_path, monkeypatch):
    (tmp_path / "cases").mkdir()
    (tmp_path / "workloads").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_caller_is_a_few_lines_pinned_to_one_commit_with_least_privilege(repo, capsys):
    assert _init(repo, "--with", "-e .", "--with", "-r requirements.txt", "--env", "tf2.15", "--env", "tf2.21",
                 "--pytest", "tests/", "--workloads", "workloads") == 0
    path = repo / init_ci.DEFAULT_OUT
    text = path.read_text()
    doc = yaml.safe_load(text)
    assert doc["permissions"] == {} and set(doc[True]) == {"schedule", "workflow_dispatch"}
    (job,) = doc["jobs"].values()
    assert job["uses"] == f"example/tfcanary/{init_ci.REUSABLE}@{SHA}"
    assert job["permissions"] == {"contents": "read", "issues": "write"}
    assert job["with"] == {"tfcanary": f"tfcanary @ git+https://github.com/example/tfcanary@{SHA}",
                           "cases": "cases", "environments": "tf2.15 tf2.21",
                           "with": "-e .\n-r requirements.txt\n", "tests": "tests/", "workloads": "workloads"}
    assert set(job["with"]) <= set(_inputs())          # only inputs the reusable workflow declares
    assert len(text.splitlines()) <= 25
    said = capsys.readouterr().out
    assert f"wrote {init_ci.DEFAULT_OUT}" in said and "Settings -> Actions -> General" in said
    assert "Run workflow" in said and "cases/snapshots/" in said


def test_without_the_alert_the_caller_asks_for_no_write_permission(repo):
    assert _init(repo, "--no-alert", "--no-nightlies", "--no-speed", "--baseline", "tf2.15") == 0
    (job,) = yaml.safe_load((repo / init_ci.DEFAULT_OUT).read_text())["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    assert {k: job["with"][k] for k in ("alert", "nightlies", "speed", "baseline")} == {
        "alert": False, "nightlies": False, "speed": False, "baseline": "tf2.15"}


def test_an_existing_workflow_is_kept_unless_forced(repo, capsys):
    path = repo / init_ci.DEFAULT_OUT
    path.parent.mkdir(parents=True)
    path.write_text("mine\n")
    assert _init(repo) == 2
    assert path.read_text() == "mine\n"
    assert "pass --force to replace it" in capsys.readouterr().err
    assert _init(repo, "--force") == 0
    assert "reusable-nightly.yml@" in path.read_text()


@pytest.mark.parametrize("args, message", [
    (["--cases", "nope"], "Expected --cases to name a folder of this repository. Received: nope (not found"),
    (["--env", "tf9.9"], "tf9.9"),
    (["--cron", "daily"], "Expected --cron with five fields"),
])
def test_bad_options_are_refused_before_anything_is_written(repo, capsys, args, message):
    assert _init(repo, *args) == 2
    assert message in capsys.readouterr().err
    assert not (repo / ".github").exists()


def test_the_pin_comes_from_where_pip_installed_tfcanary():
    record = json.dumps({"url": "https://github.com/octo/tfcanary.git",
                         "vcs_info": {"vcs": "git", "commit_id": SHA, "requested_revision": "v0.1.0"}})
    assert init_ci.source_of(record) == ("octo/tfcanary", SHA, "v0.1.0")
    local = json.dumps({"url": "file:///home/me/tfcanary", "dir_info": {"editable": True}})
    assert init_ci.source_of(local) == (None, None, None)
    assert init_ci.source_of(None) == (None, None, None)
    assert init_ci.pin("octo/tfcanary", SHA) == ("octo/tfcanary", SHA, "tfcanary 0.1.0")
    with pytest.raises(init_ci.UsageError, match="Expected --repo OWNER/NAME"):
        init_ci.pin("not a repo", SHA)


def test_the_readme_shows_what_init_ci_writes_in_at_most_15_lines(repo, capsys):
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Your repository's nightly", 1)[1]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    shown = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert len(shown.splitlines()) <= 15
    words = command.split()
    assert words[0].endswith("tfcanary") and words[1] == "init-ci"
    assert cli.main([*words[1:], "--repo", "OWNER/tfcanary", "--ref", SHA]) == 0
    written = (repo / init_ci.DEFAULT_OUT).read_text().splitlines()
    assert all(line.startswith("#") for line in written[:3])
    assert written[3:] == shown.splitlines()
