"""The nightly's jobs that lived in the noxfile: the reports and the check, on hand-built results.

(The environment job builds a real environment: tests/test_nightly.py runs it end to end.)
"""

import json

from tfcanary.nightly import jobs
from tfcanary.reports import check

from test_report import OUTCOMES, outcome, write_results


def test_the_reports_of_a_night_summary_matrix_and_the_pairs_upgrade(tmp_path):
    res = write_results(tmp_path / "results", outcomes={"tf2.21": OUTCOMES["tf2.21"],
                                                        "nightly": OUTCOMES["tf2.15"]})
    lines = []
    assert jobs.reports(res, tmp_path / "reports", echo=lines.append) == 0
    assert (res / "summary.txt").read_text().startswith("environment")
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "index.html", "upgrade-tf2.21-nightly.html", "upgrade-tf2.21-nightly.md"]
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
