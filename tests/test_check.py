"""The regression check: snapshots, exit codes, JUnit XML and the size-capped Markdown summary.

Results are small hand-built files (see test_report.write_results): they exercise
the check, they are not observations of TensorFlow.
"""

import json
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from tfcanary import cli, diff, fingerprint
from tfcanary.reports import check

from test_report import OUTCOMES, N_ROWS, outcome, write_results


@pytest.fixture
def run_dir(tmp_path):
    res = write_results(tmp_path / "results")
    snaps = tmp_path / "snapshots"
    assert check.run([res], snaps, update_snapshots=True, echo=lambda s: None) == 0
    return res, snaps


def test_update_writes_one_snapshot_per_env_keyed_without_raw_messages(run_dir):
    res, snaps = run_dir
    assert sorted(p.name for p in snaps.iterdir()) == ["tf2.15.json", "tf2.21.json"]
    doc = json.loads((snaps / "tf2.21.json").read_text())
    assert doc["env"] == "tf2.21" and doc["normalizer_version"] == fingerprint.NORMALIZER_VERSION
    assert len(doc["outcomes"]) == N_ROWS
    e = doc["outcomes"]["alpha/broken/graph"]
    assert e["status"] == "error" and e["exc_type"] == "TypeError" and len(e["fingerprint"]) == 12
    assert "message" not in json.dumps(doc)
    assert doc["outcomes"]["alpha/fixed/eager"] == {"status": "ok"}


def test_a_run_that_matches_exits_0_with_a_testcase_per_outcome(run_dir, tmp_path):
    res, snaps = run_dir
    junit, md = tmp_path / "c.xml", tmp_path / "c.md"
    assert check.run([res], snaps, junit=junit, markdown_out=md, echo=lambda s: None) == 0
    root = ET.parse(junit).getroot()
    assert root.get("tests") == str(2 * N_ROWS) and root.get("failures") == "0"
    names = {(tc.get("classname"), tc.get("name")) for tc in root.iter("testcase")}
    assert ("tfcanary.tf2.21", "alpha/broken/graph") in names and len(names) == 2 * N_ROWS
    assert "no changes" in md.read_text()


def test_a_transition_exits_1_and_names_the_old_and_new_outcome(run_dir, tmp_path):
    res, snaps = run_dir
    changed = {**OUTCOMES, "tf2.21": [
        outcome("alpha", "broken", "graph", "error", "builtins.RuntimeError", "a bad thing")
        if (o["case"], o["variant"], o["mode"]) == ("alpha", "broken", "graph") else o
        for o in OUTCOMES["tf2.21"]]}
    res2 = write_results(tmp_path / "results2", outcomes=changed)
    junit, md = tmp_path / "c.xml", tmp_path / "c.md"
    assert check.run([res2], snaps, junit=junit, markdown_out=md, echo=lambda s: None) == 1
    failures = list(ET.parse(junit).getroot().iter("failure"))
    assert len(failures) == 1
    assert failures[0].get("type") == "class-changed"
    assert failures[0].get("message").startswith("class-changed: expected error TypeError [")
    assert "got error RuntimeError [" in failures[0].get("message")
    text = md.read_text()
    assert "| tf2.21 | `alpha` | broken | graph | class-changed | high | error TypeError [" in text
    assert "check -- --update" in text
    # ...and --update accepts it: the same run then passes.
    assert check.run([res2], snaps, update_snapshots=True, echo=lambda s: None) == 0
    assert check.run([res2], snaps, echo=lambda s: None) == 0
    assert not [p for p in snaps.iterdir() if p.name.startswith(".")]   # atomic: no temp files left


def test_a_snapshot_from_another_normalizer_compares_status_and_class_only(run_dir, tmp_path):
    res, snaps = run_dir
    p = snaps / "tf2.15.json"
    doc = json.loads(p.read_text())
    doc["normalizer_version"] = 0
    doc["outcomes"]["beta/broken/eager"]["fingerprint"] = "000000000000"
    p.write_text(json.dumps(doc))
    lines = []
    assert check.run([res], snaps, echo=lines.append) == 0
    assert any("compared status and class only" in line for line in lines)


def test_missing_env_results_are_not_run_but_a_failed_install_fails(run_dir, tmp_path):
    res, snaps = run_dir
    only15 = write_results(tmp_path / "only15", outcomes={"tf2.15": OUTCOMES["tf2.15"]})
    assert check.run([only15], snaps, echo=lambda s: None) == 0
    bad = tmp_path / "bad"
    write_results(bad, outcomes={"tf2.15": OUTCOMES["tf2.15"]})
    from tfcanary import results
    results.write(bad / "tf2.21.json", {"label": "tf2.21", "status": "install-failed", "env": {},
                                        "metadata": {}, "cases": [], "corpus_errors": [],
                                        "outcomes": [], "message": "no matching distribution"})
    junit = tmp_path / "c.xml"
    assert check.run([bad], snaps, junit=junit, echo=lambda s: None) == 1
    suite = [s for s in ET.parse(junit).getroot() if s.get("name") == "tf2.21"][0]
    assert suite.get("failures") == "1" and suite.get("skipped") == str(N_ROWS)


def test_an_environment_without_a_snapshot_fails(run_dir, tmp_path):
    res, snaps = run_dir
    (snaps / "tf2.21.json").unlink()
    lines = []
    assert check.run([res], snaps, echo=lines.append) == 1
    assert any("no-snapshot" in line for line in lines)
    md = tmp_path / "check.md"
    check.run([res], snaps, markdown_out=md, echo=lambda s: None)
    assert md.read_text().splitlines()[0] == "## tfcanary check: no changes in the 1 environment compared; 1 not checked (tf2.21: no snapshot)"


def test_usage_errors_exit_2(tmp_path, capsys):
    res = write_results(tmp_path / "results")
    assert cli.main(["check", "--results", str(res), "--snapshots", str(tmp_path / "none")]) == 2
    assert "Expected a folder of snapshots (<env>.json). Received:" in capsys.readouterr().err
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "tf2.15.json").write_text("{oops")
    assert cli.main(["check", "--results", str(res), "--snapshots", str(tmp_path / "s")]) == 2
    assert "invalid JSON" in capsys.readouterr().err
    assert cli.main(["check", "--results", str(tmp_path / "nope"), "--snapshots", str(tmp_path / "s")]) == 2
    assert "Expected a results folder or file" in capsys.readouterr().err


def test_cli_check_update_then_check(tmp_path, capsys):
    res = write_results(tmp_path / "results")
    snaps = tmp_path / "snapshots"
    assert cli.main(["check", "--results", str(res), "--snapshots", str(snaps), "--update"]) == 0
    assert cli.main(["check", "--results", str(res), "--snapshots", str(snaps)]) == 0


def test_markdown_summary_stays_under_1_mib_with_a_note(tmp_path):
    n = 40_000   # each row ~150 bytes: ~6 MB if all were listed
    keys = pd.DataFrame({"case": [f"case-with-a-long-name-{i:06d}" for i in range(n)],
                         "variant": "broken", "mode": "graph-noautograph"})
    a = keys.assign(status="error", short_type="InvalidArgumentError", fingerprint="aaaaaaaaaaaa")
    b = keys.assign(status="error", short_type="OperatorNotAllowedInGraphError", fingerprint="bbbbbbbbbbbb")
    t = diff.transitions(a, b)
    checks = [check.EnvCheck("tf2.21", "compared", versions={"tensorflow": "2.21.0"}, transitions=t)]
    text = check.markdown(checks)
    size = len(text.encode("utf-8"))
    assert check.MARKDOWN_LIMIT - 4096 < size <= check.MARKDOWN_LIMIT < 1024 * 1024
    listed = text.count("| class-changed | high |")
    assert 1000 < listed < n
    assert f"> {n - listed} more transitions are not listed" in text
    assert f"## tfcanary check: {n} outcomes changed" in text
    # A small limit still holds, and a small list is not truncated.
    assert len(check.markdown(checks, limit=20_000).encode("utf-8")) <= 20_000
    small = [check.EnvCheck("tf2.21", "compared", transitions=t.head(5))]
    assert "not listed" not in check.markdown(small) and check.markdown(small).count("| high |") == 5


def test_update_leaves_a_snapshot_alone_when_only_the_date_changed(run_dir):
    res, snaps = run_dir
    path = snaps / "tf2.21.json"
    before = path.read_text()
    doc = json.loads(before)
    doc["from"]["date"] = "1999-01-01"
    path.write_text(check.dumps_snapshot(doc))
    edited = path.read_text()
    lines = []
    assert check.run([res], snaps, update_snapshots=True, echo=lines.append) == 0
    assert path.read_text() == edited
    assert any("unchanged" in line and "tf2.21" in line for line in lines)


def test_snapshots_hold_what_was_observed_not_the_stand_ins_of_a_module_that_did_not_collect(tmp_path):
    """tf2.21's module does not collect: its snapshot holds the module's outcome, not its tests
    (the reports show those as stand-ins, for display), and the check of the same results is clean."""
    from test_report import outcome, write_results

    def t(case, status, exc=None, msg=None, mode="pytest"):
        return outcome(case, "test", mode, status, exc, msg)

    rows = {"tf2.15": [t("tests/test_a.py::test_1", "ok"), t("tests/test_b.py::test_2", "ok")],
            "tf2.21": [t("tests/test_a.py", "error", "builtins.ModuleNotFoundError", "No module named 'k'",
                         mode="collect"), t("tests/test_b.py::test_2", "ok")]}
    res = write_results(tmp_path / "results", outcomes=rows, cases=[])
    snaps = tmp_path / "snapshots"
    assert check.run([res], snaps, update_snapshots=True, echo=lambda s: None) == 0
    keys = set(json.loads((snaps / "tf2.21.json").read_text())["outcomes"])
    assert keys == {"tests/test_a.py/test/collect", "tests/test_b.py::test_2/test/pytest"}
    assert check.run([res], snaps, echo=lambda s: None) == 0
    # tf2.21 collects again: its test is back, compared with the module's failure in the snapshot
    fixed = write_results(tmp_path / "fixed", outcomes={"tf2.21": rows["tf2.15"]}, cases=[])
    lines = []
    assert check.run([fixed], snaps, echo=lines.append) == 1
    assert any("tests/test_a.py::test_1/test/pytest: now-works" in line for line in lines), lines
