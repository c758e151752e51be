"""Speed results: read the timer's files, load them as a DataFrame, print the table, chart them.

    df = load_speed(["results/speed"])      # one row per (env, case)
    print(render(["results/speed"]))        # the ratio table, CIs included
    write_csv(["results/speed"], "results/speed/speedups.csv")   # for the reports

One file per environment, ``results/speed/<label>.json``, written by
:mod:`tfcanary._engine.timer` (layout: see there; ``"kind": "speed"``, schema
:data:`SCHEMA_VERSION`).  Raw samples stay in the file; the figures here are
its stored summary (:func:`tfcanary._engine.timing.summarize`).

The other reports take speedups as one DataFrame with the columns of
:data:`SPEED_COLUMNS` (per environment and case: the eager/graph and eager/XLA
time ratios, i.e. speedups, above 1 when the compiled mode is faster, with
their confidence intervals), read from ``--speedups FILE`` (CSV or JSON
records; :func:`write_csv` writes ``results/speed/speedups.csv``) by
:func:`read_speedups`.  :func:`speedup_chart` draws them for the version
matrix, :func:`speed_moves` compares two environments for the upgrade report.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .. import matrix, names, results
from ..errors import InputError, UserError
from . import toolkit

SCHEMA_VERSION = 1
SPEED_COLUMNS = ["env", "case", "ratio_graph", "ratio_graph_lo", "ratio_graph_hi",
                 "ratio_xla", "ratio_xla_lo", "ratio_xla_hi"]

COLUMNS = [
    "env", "case", "family", "status", "device",
    "ratio_graph", "ratio_graph_lo", "ratio_graph_hi", "ratio_graph_hw",
    "ratio_xla", "ratio_xla_lo", "ratio_xla_hi", "ratio_xla_hw",
    "eager_median_s", "graph_median_s", "xla_median_s",
    "eager_first_s", "trace_s", "compile_s", "retraced", "runs", "errors",
    "tensorflow", "keras", "threads",
]


_FIGURES = ("ratio_graph", "ratio_graph_lo", "ratio_graph_hi", "ratio_graph_hw", "ratio_xla",
            "ratio_xla_lo", "ratio_xla_hi", "ratio_xla_hw", "eager_median_s", "graph_median_s",
            "xla_median_s", "eager_first_s", "trace_s", "compile_s")


def read(path: os.PathLike) -> Dict[str, Any]:
    """A speed results file; a newer schema is refused, as for outcomes files, and one that
    breaks the layout (:func:`problems`) is a :class:`~tfcanary.results.ResultsError` naming it."""
    doc = results.read(path, kind="speed", version=SCHEMA_VERSION)
    found = problems(doc)
    if found:
        raise results.ResultsError(f"{path}: not a usable speed results file: {results.describe_problems(found)}")
    return doc


def problems(doc: Dict[str, Any]) -> List[str]:
    """What is wrong with a speed document, in what the table and the CSV read."""
    out = [f"label: expected {p}" for p in [names.label_problem(doc.get("label"))] if p]
    for key in ("metadata", "settings", "timing"):
        if not isinstance(doc.get(key) or {}, dict):
            out.append(f"{key}: expected an object. Received: {names.shown(doc.get(key))}")
    for where, e in results.objects(doc.get("results"), "results", out):
        if names.item_id_problem(e.get("case")):
            out.append(f"{where}.case: expected {names.item_id_problem(e.get('case'))}")
        for k in ("status", "family"):
            if not isinstance(e.get(k), (str, type(None))) or (k == "status" and e.get(k) is None):
                out.append(f"{where}.{k}: expected text. Received: {names.shown(e.get(k))}")
        errors = e.get("errors")
        if errors is not None and not (isinstance(errors, list) and all(isinstance(x, str) for x in errors)):
            out.append(f"{where}.errors: expected a list of text. Received: {names.shown(errors)}")
        summary = e.get("summary") or {}
        if not isinstance(summary, dict):
            out.append(f"{where}.summary: expected an object. Received: {names.shown(summary)}")
            continue
        for k in _FIGURES:
            v = summary.get(k)
            if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)):
                out.append(f"{where}.summary.{k}: expected a number. Received: {names.shown(v)}")
    return out


def read_all(paths: Sequence[os.PathLike]) -> List[Dict[str, Any]]:
    """Every speed file under ``paths``, in matrix order."""
    return matrix.order([read(p) for p in results.find(list(paths))], key=lambda d: d["label"])


def rows(doc: Dict[str, Any]) -> Iterable[Dict[str, Any]]:
    meta = doc.get("metadata") or {}
    threads = meta.get("threads") or {}
    for e in doc.get("results", []):
        s = e.get("summary") or {}
        yield {
            "env": doc["label"], "case": e["case"], "family": e.get("family"),
            "status": e["status"], "device": meta.get("device_name"),
            **{k: s.get(k) for k in ("ratio_graph", "ratio_graph_lo", "ratio_graph_hi",
                                     "ratio_graph_hw", "ratio_xla", "ratio_xla_lo",
                                     "ratio_xla_hi", "ratio_xla_hw", "eager_median_s",
                                     "graph_median_s", "xla_median_s", "eager_first_s",
                                     "trace_s", "compile_s")},
            "retraced": bool(s.get("retraced")), "runs": s.get("runs", 0),
            "errors": "; ".join(e.get("errors") or []) or None,
            "tensorflow": meta.get("tensorflow"), "keras": meta.get("keras"),
            "threads": threads.get("intra_op"),
        }


def load_speed(paths: Sequence[os.PathLike]):
    """One row per (environment, case), columns :data:`COLUMNS`."""
    import pandas as pd

    return pd.DataFrame([r for d in read_all(paths) for r in rows(d)], columns=COLUMNS)


def write_csv(paths: Sequence[os.PathLike], out: os.PathLike) -> Path:
    """The table of :func:`load_speed` as CSV, without pandas: what ``nox -s report --
    --speedups FILE`` reads."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for d in read_all(paths):
        w.writerows(rows(d))
    out = Path(out)
    results.write_text_atomic(out, buf.getvalue())
    return out


def _ratio(r: Dict[str, Any], name: str) -> str:
    v = r.get(f"ratio_{name}")
    if v is None:
        return "-"
    lo, hi, hw = (r.get(f"ratio_{name}_{k}") for k in ("lo", "hi", "hw"))
    if None in (lo, hi, hw):
        return f"{v:6.2f}"
    return f"{v:6.2f} [{lo:.2f}, {hi:.2f}] ±{100 * hw:.1f}%"


def _ms(v: Optional[float]) -> str:
    return "-" if v is None else f"{1000 * v:.3f}"


def render(paths: Sequence[os.PathLike]) -> str:
    """The ratio table: eager/graph and eager/XLA with 95 % CI and half-width, then
    the absolute steady-state medians (ms per call) and first-call costs (s)."""
    lines: List[str] = []
    for doc in read_all(paths):
        meta = doc.get("metadata") or {}
        st = doc.get("settings") or {}
        lines.append(f"## {doc['label']}: TF {meta.get('tensorflow')}, Keras {meta.get('keras')}, "
                     f"{meta.get('device_name')}, threads {meta.get('threads')}, "
                     f"{st.get('processes')} processes x {st.get('repeats')} repeats, "
                     f"{(doc.get('timing') or {}).get('total_s')} s")
        lines.append(f"{'case':<34} {'status':<8} {'eager/graph [95% CI]':<30} {'eager/xla [95% CI]':<30} "
                     f"{'eager ms':>9} {'graph ms':>9} {'xla ms':>9} {'trace s':>8} {'xla s':>7} retr")
        for r in rows(doc):
            t = "-" if r["trace_s"] is None else f"{r['trace_s']:.3f}"
            c = "-" if r["compile_s"] is None else f"{r['compile_s']:.3f}"
            lines.append(f"{r['case']:<34} {r['status']:<8} {_ratio(r, 'graph'):<30} {_ratio(r, 'xla'):<30} "
                         f"{_ms(r['eager_median_s']):>9} {_ms(r['graph_median_s']):>9} "
                         f"{_ms(r['xla_median_s']):>9} {t:>8} {c:>7} {'YES' if r['retraced'] else 'no'}")
            if r["errors"]:
                lines.append(f"{'':<34} {r['errors'][:150]}")
        lines.append("")
    return "\n".join(lines)


# --- for the other reports -------------------------------------------------------------

def read_speedups(path: Optional[os.PathLike]):
    """The speed table from a CSV or JSON-records file, checked (:func:`check_speedups`)."""
    if path is None:
        return None
    import io

    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise UserError(f"Expected a speedups file (CSV or JSON). Received: {p} (not found).")
    text = results.read_text(p, "speedups file (CSV or JSON)")
    try:
        frame = (pd.read_csv(io.StringIO(text)) if p.suffix == ".csv"
                 else pd.read_json(io.StringIO(text), orient="records"))
    except Exception as exc:  # noqa: BLE001 -- whatever the parser says, the file is not a table
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise InputError(f"Expected a speedups file, {'CSV' if p.suffix == '.csv' else 'JSON records'} "
                         f"with the columns {SPEED_COLUMNS}. Received: {p} ({type(exc).__name__}: "
                         f"{first}).") from None
    return check_speedups(frame, str(p))


def check_speedups(frame, where: str = "speedups"):
    """``frame`` with its ratio columns as numbers; an :class:`InputError` when a column is
    missing, an ``env`` is not an environment label, a ``case`` not an item id, or a ratio
    not a number (empty is fine: no measurement)."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"Expected speedups as a table. Received: {where} ({type(frame).__name__}).")
    missing = [c for c in SPEED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"Expected speedups with columns {SPEED_COLUMNS}. "
                        f"Received: {where} without {missing}.")
    bad: List[str] = []
    for i, (env, case) in enumerate(zip(frame["env"], frame["case"])):
        for problem in (names.label_problem(env), names.item_id_problem(case)):
            if problem:
                bad.append(f"row {i + 1}: expected {problem}")
    frame = frame.copy()
    for col in SPEED_COLUMNS[2:]:
        numbers = pd.to_numeric(frame[col], errors="coerce")
        wrong = (numbers.isna() & frame[col].notna()) | numbers.isin([math.inf, -math.inf])
        bad += [f"row {i + 1}: {col}: expected a number. Received: {names.shown(frame[col].iloc[i])}"
                for i in [int(j) for j in wrong.to_numpy().nonzero()[0]]]
        frame[col] = numbers.astype(float)
    if bad:
        raise InputError(f"{where}: not a usable speedups table: {results.describe_problems(bad)}")
    return frame


def speedup_chart(speedups) -> Optional[str]:
    """An inline SVG: per case, one bar per environment for the eager/graph and eager/XLA speedups.

    The x axis is logarithmic (a 2x speedup and a 2x slowdown are equally
    far from 1); whiskers are the confidence interval.  ``None`` when there
    is nothing to draw, so the template says so instead.
    """
    if speedups is None or len(speedups) == 0:
        return None
    from markupsafe import Markup

    s = check_speedups(speedups).copy()
    envs = matrix.order(list(s["env"].unique()))
    cases = sorted(s["case"].unique())
    values = s[["ratio_graph", "ratio_graph_lo", "ratio_graph_hi", "ratio_xla", "ratio_xla_lo",
                "ratio_xla_hi"]].to_numpy(dtype=float).ravel()
    values = values[(values > 0) & ~(values != values)]
    lo = min(0.5, float(values.min()) if len(values) else 1.0)
    hi = max(2.0, float(values.max()) if len(values) else 1.0)
    lo_e, hi_e = math.floor(math.log10(lo) * 2) / 2, math.ceil(math.log10(hi) * 2) / 2
    label_w, panel_w, bar_h, gap = 230, 300, 9, 8
    group_h = bar_h * len(envs) + gap

    def x(v: float, panel: int) -> float:
        v = min(max(v, 10 ** lo_e), 10 ** hi_e)
        return label_w + panel * (panel_w + 40) + (math.log10(v) - lo_e) / (hi_e - lo_e) * panel_w

    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
             if lo_e <= math.log10(t) <= hi_e]
    palette = ["#1b6ca8", "#e07b00", "#2a9d3f", "#b8336a", "#6c4f9e", "#7a6a00", "#008b8b", "#555"]
    bars = []
    by = {(r["env"], r["case"]): r for r in toolkit.records(s)}
    for ci, case in enumerate(cases):
        for ei, env in enumerate(envs):
            r = by.get((env, case))
            if r is None:
                continue
            y = 30 + ci * group_h + ei * bar_h
            for panel, metric in enumerate(("graph", "xla")):
                v = r.get(f"ratio_{metric}")
                if v is None or not v > 0:
                    continue
                lo_v, hi_v = r.get(f"ratio_{metric}_lo") or v, r.get(f"ratio_{metric}_hi") or v
                bars.append({"x0": x(1.0, panel), "x1": x(v, panel), "y": y, "h": bar_h - 2,
                             "lo": x(lo_v, panel), "hi": x(hi_v, panel),
                             "colour": palette[ei % len(palette)],
                             "title": f"{case} in {env}: eager/{metric} {v:.2g}x "
                                      f"[{lo_v:.2g}, {hi_v:.2g}]"})
    height = 30 + len(cases) * group_h + 40
    svg = toolkit.template("speedups.svg.html").render(
        width=label_w + 2 * panel_w + 60, height=height, bars=bars,
        cases=[{"name": c, "y": 30 + i * group_h + (bar_h * len(envs)) / 2 + 3}
               for i, c in enumerate(cases)],
        panels=[{"title": t, "x": label_w + p * (panel_w + 40), "one": x(1.0, p),
                 "ticks": [{"x": x(v, p), "label": f"{v:g}x"} for v in ticks]}
                for p, t in enumerate(("tf.function speedup over eager", "XLA speedup over eager"))],
        legend=[{"env": e, "colour": palette[i % len(palette)]} for i, e in enumerate(envs)],
        bottom=height - 28)
    return Markup(svg)


def speed_moves(speedups, a: str, b: str):
    """Ratios whose confidence intervals in ``a`` and ``b`` do not overlap (moved beyond noise).

    Columns: case, metric, a, a_lo, a_hi, b, b_lo, b_hi, direction.
    Non-overlapping intervals is a conservative test: overlapping ones can still
    differ, but these did for sure at the intervals' level.
    """
    import pandas as pd

    cols = ["case", "metric", "a", "a_lo", "a_hi", "b", "b_lo", "b_hi", "direction"]
    if speedups is None or len(speedups) == 0:
        return pd.DataFrame(columns=cols)
    s = check_speedups(speedups)
    m = s[s["env"] == a].merge(s[s["env"] == b], on="case", suffixes=("_a", "_b"))
    rows = []
    for r in toolkit.records(m):
        for metric in ("graph", "xla"):
            va, vb = r.get(f"ratio_{metric}_a"), r.get(f"ratio_{metric}_b")
            if va is None or vb is None:
                continue
            a_lo, a_hi = r[f"ratio_{metric}_lo_a"], r[f"ratio_{metric}_hi_a"]
            b_lo, b_hi = r[f"ratio_{metric}_lo_b"], r[f"ratio_{metric}_hi_b"]
            if None in (a_lo, a_hi, b_lo, b_hi):
                continue   # no interval, no claim that it moved
            if b_lo > a_hi or b_hi < a_lo:
                rows.append({"case": r["case"], "metric": metric, "a": va, "a_lo": a_lo, "a_hi": a_hi,
                             "b": vb, "b_lo": b_lo, "b_hi": b_hi,
                             "direction": "faster" if b_lo > a_hi else "slower"})
    return pd.DataFrame(rows, columns=cols)
