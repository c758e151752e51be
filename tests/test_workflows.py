"""The GitHub workflows as written: secure (zizmor), thin (every step a nox session) and
derived from the matrix.  They never run here; these tests read them as GitHub would."""

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


@pytest.mark.parametrize("name", ["nightly.yml", "ci.yml"])
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(name):
    lines = [l.strip() for l in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines()]
    uses = [l.split("uses:", 1)[1].strip() for l in lines if l.lstrip("- ").startswith("uses:")]
    assert uses
    bad = [u for u in uses if not SHA_PIN.match(u)]
    assert bad == []


@pytest.mark.parametrize("name", ["nightly.yml", "ci.yml"])
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
