"""The version matrix and the upgrade-risk report, rendered from small results files.

The results here are built by hand to exercise the renderer (one of each
change kind); they are not observations of TensorFlow.  ``test_real_*`` render
real results from the end-to-end fixture.
"""

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from tfcanary import cli, diff, fingerprint, results, store
from tfcanary.reports import speed as report_speed
from tfcanary.reports import toolkit as report
from tfcanary.reports import upgrade as report_upgrade
from tfcanary.reports import version_matrix as report_matrix
from tfcanary.errors import UserError

CASES = [
    {"id": "alpha", "family": "control-flow", "kind": "layer", "source": "A question <b>about</b> alpha",
     "claim": {"error": "TypeError", "message": "bad thing", "where": "in tf.function"},
     "tags": [], "doc": "alpha doc", "file": "cases/alpha.py", "line": 3, "variants": ["broken", "fixed"]},
    {"id": "beta", "family": "dtypes", "kind": "layer", "source": "", "claim": None, "tags": [],
     "doc": "", "file": "cases/beta.py", "line": 9, "variants": ["broken", "fixed"]},
    {"id": "gamma", "family": "dtypes", "kind": "script", "source": "S", "claim": {"error": "ValueError",
     "message": "never said", "where": ""}, "tags": [], "doc": "", "file": "cases/gamma.py", "line": 1,
     "variants": ["broken"]},
]
N_ROWS = 9   # outcomes: alpha and beta: 2 variants x 2 modes; gamma: 1
N_LINES = 5  # matrix rows, one per (case, variant)


def outcome(case, variant, mode, status, exc=None, msg=None, reason=None):
    d = {"case": case, "variant": variant, "mode": mode, "status": status, "duration_s": 0.01}
    if status == "error":
        norm = fingerprint.normalize(msg)
        d.update(exc_type=exc, message=msg, normalized=norm, fingerprint=fingerprint.fingerprint(exc, norm),
                 frame=f"{case}.py:10 in call")
    if reason:
        d["reason"] = reason
    return d


OUTCOMES = {
    "tf2.15": [
        outcome("alpha", "broken", "eager", "ok"),
        outcome("alpha", "broken", "graph", "error", "builtins.ValueError", "old <script>alert(1)</script>"),
        outcome("alpha", "fixed", "eager", "ok"), outcome("alpha", "fixed", "graph", "ok"),
        outcome("beta", "broken", "eager", "error", "builtins.ValueError", "shape (4, 3)"),
        outcome("beta", "broken", "graph", "error", "builtins.ValueError", "same"),
        outcome("beta", "fixed", "eager", "ok"), outcome("beta", "fixed", "graph", "skip", reason="n/a"),
        outcome("gamma", "broken", "script", "ok"),
    ],
    "tf2.21": [
        outcome("alpha", "broken", "eager", "error", "builtins.TypeError", "a bad thing happened"),
        outcome("alpha", "broken", "graph", "error", "builtins.TypeError", "a BAD THING in graph"),
        outcome("alpha", "fixed", "eager", "ok"), outcome("alpha", "fixed", "graph", "ok"),
        outcome("beta", "broken", "eager", "error", "builtins.ValueError", "shape (4, 5)"),
        outcome("beta", "broken", "graph", "error", "builtins.ValueError", "same"),
        outcome("beta", "fixed", "eager", "ok"), outcome("beta", "fixed", "graph", "skip", reason="n/a"),
        outcome("gamma", "broken", "script", "ok"),
    ],
}


def write_results(folder, outcomes=OUTCOMES, cases=CASES):
    for label, rows in outcomes.items():
        tf = label[2:].split("-")[0]
        results.write(folder / f"{label}.json", {
            "label": label, "status": "ok", "env": {"flavour": "keras3", "kind": "released"},
            "metadata": {"python": "3.11.7", "tensorflow": f"{tf}.0", "keras": "3.0.0",
                         "date": "2026-01-01T00:00:00+00:00", "normalizer_version": 1},
            "cases": cases, "corpus_errors": [], "outcomes": rows})
    return folder


@pytest.fixture
def small(tmp_path):
    return write_results(tmp_path / "results")


class Rows(HTMLParser):
    """The matrix rows of index.html (one per case and variant): their data- attributes and cell classes."""

    def __init__(self):
        super().__init__()
        self.rows, self.in_matrix = [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.in_matrix = a.get("id") == "matrix"
        if self.in_matrix and tag == "tr" and "data-r" in a:
            self.rows.append({**a, "cells": []})
        if self.in_matrix and tag == "td" and "c" in (a.get("class") or "").split():
            self.rows[-1]["cells"].append(a["class"])


def parse_rows(html):
    p = Rows()
    p.feed(html)
    return p.rows


def test_matrix_has_one_row_per_case_variant_and_columns_in_version_order(small, tmp_path):
    html = report_matrix.write([small], tmp_path / "reports").read_text()
    rows = parse_rows(html)
    assert len(rows) == N_LINES
    assert all(len(r["cells"]) == 2 for r in rows)
    assert html.index('title="tf2.15: TensorFlow') < html.index('title="tf2.21: TensorFlow')


def test_a_cell_that_differs_from_its_left_neighbour_is_marked_high_or_low(small, tmp_path):
    rows = {(r["data-case"], r["data-variant"]): r
            for r in parse_rows(report_matrix.write([small], tmp_path).read_text())}
    # alpha broken: newly failing and class changed (high); beta broken: message only (low).
    assert {k for k, r in rows.items() if r["data-changes"] == "1"} == {("alpha", "broken"), ("beta", "broken")}
    assert rows["alpha", "broken"]["cells"][1].split()[-1] == "H"
    assert rows["beta", "broken"]["cells"][1].split()[-1] == "L"
    for r in rows.values():
        assert not {"H", "L"} & set(r["cells"][0].split())
        if r["data-changes"] == "0":
            assert not any({"H", "L"} & set(c.split()) for c in r["cells"])


def test_messages_are_stored_once_per_fingerprint(small, tmp_path):
    import json

    html = report_matrix.write([small], tmp_path).read_text()
    data = json.loads(html.split('<script type="application/json" id="data">')[1].split("</script>")[0])
    fps = set(report.load([small]).outcomes["fingerprint"].dropna())
    assert set(data["M"]) == fps
    assert sum(line == "shape (4, 3)" for line in data["L"]) == 1


def test_messages_are_escaped_and_the_page_loads_nothing_from_outside(small, tmp_path):
    html = report_matrix.write([small], tmp_path).read_text()
    assert "<script>alert(1)" not in html
    assert "\\u003cscript\\u003ealert(1)" in html   # in the page's JSON
    assert "A question &lt;b&gt;about&lt;/b&gt; alpha" in html
    assert not re.search(r'<(link|img|iframe)\b|<script[^>]+src=|@import', html)


def test_claims_column_says_where_the_claim_is_reproduced_or_never(small):
    claims = report.claims_frame(report.load([small])).set_index("case")
    # "bad thing" matches case-insensitively in both tf2.21 modes; never in tf2.15.
    assert claims.loc["alpha", "reproduced"] == {"tf2.21": ["eager", "graph"]}
    assert not claims.loc["alpha", "never"]
    assert claims.loc["gamma", "never"]
    assert "beta" not in claims.index   # no claim


def test_speedup_slot_says_so_without_data_and_draws_a_chart_with_it(small, tmp_path):
    html = report_matrix.write([small], tmp_path).read_text()
    assert 'id="no-speed"' in html and "<svg" not in html
    speed = pd.DataFrame([
        {"env": e, "case": c, "ratio_graph": g, "ratio_graph_lo": g * .9, "ratio_graph_hi": g * 1.1,
         "ratio_xla": x, "ratio_xla_lo": x * .8, "ratio_xla_hi": x * 1.2}
        for e, c, g, x in [("tf2.15", "alpha", 3.0, 5.0), ("tf2.21", "alpha", 1.5, 6.0),
                           ("tf2.15", "beta", 0.7, 2.0)]])
    html = report_matrix.write([small], tmp_path, speedups=speed).read_text()
    assert 'id="no-speed"' not in html
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert svg.count("<rect") == 2 * 3 + 2   # two ratios per measurement, plus a legend entry per env
    assert "alpha in tf2.21: eager/graph 1.5x [1.4, 1.7]" in svg
    moves = report_speed.speed_moves(speed, "tf2.15", "tf2.21")
    assert moves[["case", "metric", "direction"]].values.tolist() == [["alpha", "graph", "slower"]]


def test_report_and_upgrade_pick_up_the_speed_table_a_speed_run_wrote(small, tmp_path):
    """`tfcanary run --speed` writes <results>/speed/speedups.csv; the reports chart it unasked."""
    from tfcanary import cli

    (small / "speed").mkdir()
    pd.DataFrame([{"env": e, "case": "alpha", "ratio_graph": g, "ratio_graph_lo": g * .95,
                   "ratio_graph_hi": g * 1.05, "ratio_xla": None, "ratio_xla_lo": None, "ratio_xla_hi": None}
                  for e, g in (("tf2.15", 3.0), ("tf2.21", 1.5))]).to_csv(small / "speed" / "speedups.csv",
                                                                        index=False)
    out = tmp_path / "reports"
    assert cli.main(["report", str(small), "--out", str(out)]) == 0
    assert "alpha in tf2.21: eager/graph 1.5x" in (out / "index.html").read_text()
    assert cli.main(["upgrade", "tf2.15", "tf2.21", "--results", str(small), "--out", str(out)]) == 0
    md = (out / "upgrade-tf2.15-tf2.21.md").read_text()
    assert "| `alpha` | graph / eager | 3× [2.8, 3.2] | 1.5× [1.4, 1.6] | slower |" in md
    (small / "speed" / "speedups.csv").unlink()
    assert cli.main(["report", str(small), "--out", str(out)]) == 0
    assert 'id="no-speed"' in (out / "index.html").read_text()


def test_speedups_with_missing_columns_are_refused(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("env,case,ratio_graph\ntf2.15,alpha,2\n")
    with pytest.raises(UserError, match=r"Expected speedups with columns .* Received: .*ratio_xla"):
        report_speed.read_speedups(p)


def test_upgrade_report_classifies_and_lists_high_risk_first(small, tmp_path):
    html_path, md_path = report_upgrade.write([small], "tf2.15", "tf2.21", tmp_path / "reports")
    assert html_path.name == "upgrade-tf2.15-tf2.21.html" and md_path.suffix == ".md"
    md, html = md_path.read_text(), html_path.read_text()
    assert "**n = 9**" in md
    counts = dict(re.findall(r"^\| ([a-z-]+) \| (?:high|low|info|none) \| (\d+) \|", md, re.M))
    assert counts["newly-failing"] == "1" and counts["class-changed"] == "1"
    assert counts["message-changed"] == "1" and counts["unchanged"] == "6"
    # n < 20: counts only, said so, no percentages.
    assert "n is small (9 < 20)" in md and "%" not in md.split("## High risk")[0]
    assert md.startswith("# Upgrade risk: `tf2.15` → `tf2.21`\n\n**tf2.15 → tf2.21: high risk — 1 of 3 cases "
                         "change their exception class or start failing (2 outcomes); 1 case changes only "
                         "a message (1 outcome); all 2 documented fixes still work**")
    high = md.split("## High risk")[1].split("## Low risk")[0]
    # One entry per (case, variant), listing its modes; each distinct old/new pair once.
    assert high.count("### ") == 1
    assert "### `alpha` · broken — newly-failing, class-changed in 2 modes: eager, graph" in high
    assert "Source: A question &lt;b>about&lt;/b> alpha" in high   # no HTML in the Markdown: shown as text
    assert "old &lt;script>alert(1)&lt;/script>" in high     # ...but no raw tag reaches the page
    assert "&lt;script&gt;" in html and "<script>alert" not in html


def test_percentages_are_whole_and_only_for_n_of_20_or_more():
    assert report.pct(1, 19) == ""
    assert report.pct(1, 20) == "5%"
    assert report.pct(1, 3000) == "0%"


def test_upgrade_names_what_is_missing(small, tmp_path):
    with pytest.raises(UserError, match=r"Expected results for environment 'tf2.16'. Received: results for tf2.15, tf2.21"):
        report_upgrade.write([small], "tf2.15", "tf2.16", tmp_path)
    with pytest.raises(UserError, match=r"Expected an environment label like 'tf2.16'.*Did you mean 'tf2.15'"):
        report_upgrade.write([small], "2.15", "tf2.21", tmp_path)


def test_cli_writes_both_reports_and_exits_2_on_a_usage_error(small, tmp_path, capsys):
    out = tmp_path / "reports"
    assert cli.main(["report", str(small), "--out", str(out)]) == 0
    assert cli.main(["upgrade", "tf2.15", "tf2.21", "--results", str(small), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "index.html", "upgrade-tf2.15-tf2.21.html", "upgrade-tf2.15-tf2.21.md"]
    assert cli.main(["report", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "Expected a results folder or file. Received:" in capsys.readouterr().err


@pytest.mark.e2e
def test_real_results_render(probed, tmp_path):
    frame = store.load_outcomes([probed["dir"]])
    html = report_matrix.write([probed["dir"]], tmp_path).read_text()
    assert len(parse_rows(html)) == len(frame.drop_duplicates(["case", "variant"]))
    _, md = report_upgrade.write([probed["dir"]], "tf2.15", "tf2.21", tmp_path)
    t = diff.transitions(frame[frame.env == "tf2.15"], frame[frame.env == "tf2.21"])
    n = int((~t["change"].isin(["added", "removed"])).sum())
    assert f"**n = {n}**" in md.read_text()


def test_speed_moves_needs_intervals_on_both_sides():
    nan = float("nan")
    speed = pd.DataFrame([
        {"env": "tf2.15", "case": "alpha", "ratio_graph": 3.0, "ratio_graph_lo": nan, "ratio_graph_hi": nan,
         "ratio_xla": nan, "ratio_xla_lo": nan, "ratio_xla_hi": nan},
        {"env": "tf2.21", "case": "alpha", "ratio_graph": 9.0, "ratio_graph_lo": 8.0, "ratio_graph_hi": 10.0,
         "ratio_xla": 2.0, "ratio_xla_lo": 1.0, "ratio_xla_hi": 3.0}])
    assert report_speed.speed_moves(speed, "tf2.15", "tf2.21").empty
    assert report_speed.speed_moves(None, "tf2.15", "tf2.21").empty


def test_check_summary_names_unchecked_environments_first_and_counts_per_environment():
    from tfcanary.reports import check

    keys = pd.DataFrame({"case": ["alpha", "beta"], "variant": "broken", "mode": "graph"})
    a = keys.assign(status="error", short_type="ValueError", fingerprint="aaaaaaaaaaaa")
    b = a.assign(short_type=["TypeError", "ValueError"], fingerprint=["bbbbbbbbbbbb", "aaaaaaaaaaaa"])
    checks = [check.EnvCheck("tf2.15", "compared", transitions=diff.transitions(a, a)),
              check.EnvCheck("tf2.21", "compared", transitions=diff.transitions(a, b)),
              check.EnvCheck("tf2.22", "no-snapshot", versions={"tensorflow": "2.22.0"}),
              check.EnvCheck("tf2.19", "env-failed", note="pip could not resolve keras")]
    text = check.markdown(checks)
    head, table = text.split("| environment |", 1)
    assert head.startswith("## tfcanary check: 1 outcome changed in 1 environment; 2 not checked")
    assert head.index("`tf2.22`: no snapshot") < head.index("**Transitions per environment:**")
    assert "`tf2.19`: failed to install or probe — pip could not resolve keras" in head
    assert "**Transitions per environment:** `tf2.15` 0 · `tf2.21` 1" in head
    # An environment without a snapshot has no count, not "0 changed".
    assert re.search(r"^\| `tf2.22` \| 2.22.0 \| – \| no-snapshot \| – \| – \|", table, re.M)


def test_first_changed_from_the_data_and_from_a_bisection(small, tmp_path):

    rows = {(r["case"], r["variant"]): r for r in report_matrix.rows(report.load([small]))}
    first = rows["alpha", "broken"]["first"]
    assert first["env"] == "tf2.21" and first["text"] == "ok → TypeError" and first["modes"] == ["eager"]
    assert rows["alpha", "fixed"]["first"] is None
    bisected = {("alpha", "broken", "eager"): "keras 3.5.0 (3.4.1 before)"}
    html = report_matrix.write([small], tmp_path, first_changed=bisected).read_text()
    assert "first changed in keras 3.5.0 (3.4.1 before)" in html
    _, md = report_upgrade.write([small], "tf2.15", "tf2.21", tmp_path, first_changed=bisected)
    assert "First changed in: keras 3.5.0 (3.4.1 before)" in md.read_text()


def test_matrix_shows_leaked_state_corpus_errors_and_claim_metadata(tmp_path):
    import json

    cases = [dict(CASES[0], url="https://example.org/q/1", fidelity="adapted",
                  claim=dict(CASES[0]["claim"], versions="TF 2.15"))] + CASES[1:]
    leaky = {k: [dict(o, leaked=["keras.backend floatx: float32 -> float16"])
                 if (o["case"], o["variant"], o["mode"]) == ("beta", "fixed", "eager") else o for o in v]
             for k, v in OUTCOMES.items()}
    folder = write_results(tmp_path / "results", leaky, cases)
    doc = json.loads((folder / "tf2.21.json").read_text())
    doc["corpus_errors"] = [{"file": "cases/broken_file.py", "line": 7, "message": "SyntaxError: bad"}]
    results.write(folder / "tf2.21.json", doc)
    html = report_matrix.write([folder], tmp_path / "reports").read_text()
    assert "cases/broken_file.py:7</code> SyntaxError: bad" in html
    assert '<a href="https://example.org/q/1">' in html and "<td>adapted</td>" in html
    assert "reported on TF 2.15" in html
    beta_fixed = next(r for r in parse_rows(html) if (r["data-case"], r["data-variant"]) == ("beta", "fixed"))
    assert all("lk" in c.split() for c in beta_fixed["cells"])
    assert "keras.backend floatx: float32 -\\u003e float16" in html


def test_matrix_page_stays_small_with_many_environments_and_long_messages(tmp_path):
    from test_browser import wide_results

    page = report_matrix.write([wide_results(tmp_path / "results", n_envs=18, n_cases=110)], tmp_path)
    # 18 environments x 220 rows x 7 modes, a 200-character message per failing outcome.
    assert page.stat().st_size <= 1.5 * 1024 * 1024


def test_the_upgrade_verdict_counts_a_suites_tests(tmp_path):
    """A suite's outcomes (variant test): 2 of 4 tests newly fail, one of them because its module
    no longer collects; one fails with another message."""
    def t(case, status, exc=None, msg=None, mode="pytest"):
        return outcome(case, "test", mode, status, exc, msg)

    rows = {
        "tf2.15": [t("tests/test_a.py::test_1", "ok"), t("tests/test_a.py::test_2", "ok"),
                   t("tests/test_b.py::test_3", "error", "builtins.ValueError", "one"),
                   t("tests/test_c.py::test_4", "ok")],
        "tf2.21": [t("tests/test_a.py::test_1", "error", "builtins.ValueError", "x"),
                   t("tests/test_a.py::test_2", "ok"),
                   t("tests/test_b.py::test_3", "error", "builtins.ValueError", "two"),
                   t("tests/test_c.py", "error", "builtins.ModuleNotFoundError", "No module named 'k'",
                     mode="collect")],
    }
    cases = [{"id": o["case"], "family": o["case"].split("::")[0], "kind": "test", "source": "",
              "claim": None, "tags": [], "doc": "", "file": o["case"].split("::")[0], "line": 1,
              "variants": ["test"]} for o in rows["tf2.15"]]
    folder = write_results(tmp_path / "results", outcomes=rows, cases=cases)
    html, md = report_upgrade.write([folder], "tf2.15", "tf2.21", tmp_path / "reports")
    text = md.read_text()
    assert ("tf2.15 → tf2.21: high risk — 2 of 4 tests newly fail in tf2.21 (1 no longer collects); "
            "1 test fails with another message") in text
    assert "| stopped-collecting | high | 1 |" in text
    assert "from 4 tests of your suite" in text
    page = report_matrix.write([folder], tmp_path / "reports").read_text()
    assert "tests/test_c.py::test_4" in page
