"""The GitHub workflows as written: secure (zizmor), thin (every step a nox session or a
tfcanary command) and derived from the matrix.  They never run on GitHub here; these tests
read them as GitHub would (tests/test_user_nightly.py plays the reusable one's steps)."""

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tfcanary import matrix

from conftest import ROOT, nox_cmd

WORKFLOWS = ROOT / ".github" / "workflows"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def _load(name):
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _steps(doc):
    for job_id, job in doc["jobs"].items():
        for step in job["steps"]:
            yield job_id, step


@pytest.fixture(scope="module")
def sessions():
    out = subprocess.run(nox_cmd("-l"), cwd=ROOT, capture_output=True, text=True, check=True)
    return {l[2:].split(" -> ")[0] for l in out.stdout.splitlines() if l[:2] in ("* ", "- ")}


def _zizmor():
    found = shutil.which("zizmor") or shutil.which("zizmor", path=str(ROOT / ".nox" / "tests" / "bin"))
    if found is None:
        pytest.skip("zizmor is not installed (the test extra installs it: nox -s tests)")
    return found


def test_zizmor_offline_finds_nothing_at_medium_or_high_severity():
    proc = subprocess.run([_zizmor(), "--offline", "--format", "json", "--min-severity", "medium",
                           str(WORKFLOWS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("name", ["nightly.yml", "ci.yml", "reusable-nightly.yml"])
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(name):
    lines = [l.strip() for l in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()]
    uses = [l.split("uses:", 1)[1].strip() for l in lines if l.lstrip("- ").startswith("uses:")]
    assert uses
    bad = [u for u in uses if not SHA_PIN.match(u)]
    assert bad == []


@pytest.mark.parametrize("name", ["nightly.yml", "ci.yml", "reusable-nightly.yml"])
def test_no_expression_inside_run_and_no_checkout_keeps_the_token(name):
    for job_id, step in _steps(_load(name)):
        assert "${{" not in step.get("run", ""), (job_id, step["run"])
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, job_id


def test_write_permissions_only_where_the_nightly_pushes_or_files_the_alert():
    doc = _load("nightly.yml")
    assert doc["permissions"] == {}
    writes = {job_id: sorted(k for k, v in job["permissions"].items() if v == "write")
              for job_id, job in doc["jobs"].items()}
    assert writes == {"pin": ["contents"], "env": [], "publish": ["contents"], "check": [],
                      "alert": ["issues"]}
    tokens = {job_id for job_id, step in _steps(doc)
              if "github.token" in json.dumps(step.get("env", {}))}
    assert tokens == {"pin", "publish", "alert"}


def test_the_nightly_yaml_only_installs_nox_and_calls_sessions_that_exist(sessions):
    for job_id, step in _steps(_load("nightly.yml")):
        run = step.get("run")
        if run is None:
            continue
        if run.startswith("python -m pip install"):
            continue
        m = re.match(r"^nox -s ([\w.-]+)( -- .*)?$", run.strip())
        assert m, f"{job_id}: a step of substance belongs in a nox session: {run!r}"
        assert m.group(1) in sessions, (job_id, m.group(1))


def test_the_fan_out_is_the_matrix_so_a_new_entry_is_a_new_job(sessions):
    env_job = _load("nightly.yml")["jobs"]["env"]
    assert env_job["strategy"]["matrix"]["label"] == "${{ fromJSON(needs.pin.outputs.envs) }}"
    assert env_job["strategy"]["fail-fast"] is False
    out = subprocess.run([sys.executable, "-m", "tfcanary", "nightly", "matrix"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [e.label for e in matrix.full()]


def test_ci_runs_the_readme_test_command_and_cancels_superseded_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "python3 -m pip install 'nox[uv]' && nox -s tests"
    assert command in readme
    doc = _load("ci.yml")
    assert command in [s.get("run") for _, s in _steps(doc)]
    assert doc["concurrency"]["cancel-in-progress"] is True
    assert any(re.match(r"nox -s tf2\.\d+ -- --select ", s.get("run", "")) for _, s in _steps(doc))
    events = doc[True] if True in doc else doc["on"]   # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request"} <= set(events)


# --- the reusable nightly, for a repository of one's own layers -------------------------------

def _zizmor_all(path):
    """zizmor offline, every severity and confidence, the default persona: its findings."""
    proc = subprocess.run([_zizmor(), "--offline", "--format", "json", "--min-severity", "informational",
                           "--min-confidence", "low", str(path)], capture_output=True, text=True)
    assert proc.returncode in (0, 1) or proc.stdout.strip().startswith("["), proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_zizmor_finds_nothing_of_any_severity_in_the_reusable_workflow():
    assert _zizmor_all(WORKFLOWS / "reusable-nightly.yml") == []


def test_zizmor_finds_nothing_of_any_severity_in_what_init_ci_writes(tmp_path, monkeypatch):
    from tfcanary import cli

    (tmp_path / "cases").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init-ci", "--repo", "example/tfcanary", "--ref", "0" * 40, "--with", "-e .",
                     "--with", "-r requirements.txt", "--pytest", "tests", "--env", "tf2.15"]) == 0
    assert _zizmor_all(tmp_path / ".github" / "workflows") == []
    assert cli.main(["init-ci", "--repo", "example/tfcanary", "--ref", "0" * 40, "--no-alert", "--force"]) == 0
    assert _zizmor_all(tmp_path / ".github" / "workflows") == []


def test_zizmor_does_find_an_unpinned_or_injecting_workflow(tmp_path):
    """The zizmor tests above can fail: the same audit flags a caller pinned to a branch and
    an input expanded inside a shell line."""
    bad = tmp_path / "bad.yml"
    bad.write_text("""name: bad
on: workflow_dispatch
permissions: {}
jobs:
  nightly:
    uses: example/tfcanary/.github/workflows/reusable-nightly.yml@main
  echo:
    runs-on: ubuntu-24.04
    permissions: {}
    steps:
      - run: echo "${{ github.event.head_commit.message }}"
""")
    found = {f["ident"] for f in _zizmor_all(bad)}
    assert {"unpinned-uses", "template-injection"} <= found, found


def test_the_reusable_workflow_uses_the_same_action_commits_as_the_nightly():
    def pins(name):
        text = (WORKFLOWS / name).read_text(encoding="utf-8")
        return {m.group(1): m.group(2) for m in re.finditer(r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})", text)}

    mine, nightly = pins("reusable-nightly.yml"), pins("nightly.yml")
    assert mine and all(nightly.get(action) == sha for action, sha in mine.items()), (mine, nightly)


def test_the_reusable_workflow_writes_issues_only_in_the_alert_job_and_pushes_nothing():
    doc = _load("reusable-nightly.yml")
    assert list(doc[True]) == ["workflow_call"] and doc["permissions"] == {}
    perms = {job_id: job["permissions"] for job_id, job in doc["jobs"].items()}
    assert perms == {"pin": {}, "env": {"contents": "read"}, "report": {"contents": "read"},
                     "alert": {"issues": "write"}}
    tokens = {job_id for job_id, step in _steps(doc) if "github.token" in json.dumps(step.get("env", {}))}
    assert tokens == {"alert"}
    assert "--push" not in (WORKFLOWS / "reusable-nightly.yml").read_text(encoding="utf-8")


def test_every_step_of_the_reusable_workflow_installs_tfcanary_or_runs_one_tfcanary_command():
    """Shell around it only turns inputs into options: the command is what a user runs on a laptop."""
    glue = re.compile(r"^(set -f|args=\(.*\)|args\+=\(.*\)|for \w+ in \$\w+; do args\+=\(.*\); done|"
                      r"if \[ .* \]; then( args\+=\(.*\); fi)?|fi|while IFS= read -r \w+; do|"
                      r"done <<< \"\$\w+\"|)$")
    commands = []
    for job_id, step in _steps(_load("reusable-nightly.yml")):
        if "run" not in step:
            continue
        lines = [l.strip() for l in step["run"].splitlines()]
        calls = [l for l in lines if not glue.match(l)]
        assert len(calls) == 1, (job_id, calls)
        assert calls[0] == 'python -m pip install "$TFCANARY"' or calls[0].startswith("tfcanary "), calls
        commands.append(calls[0].split()[:3])
    assert ["tfcanary", "run", '"${args[@]}"'] in commands
    assert {c[1] for c in commands if c[0] == "tfcanary"} >= {"nightly", "run"}
