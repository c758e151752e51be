"""What the reports share: loading results, claims, speedups, template filters.

    python -m tfcanary report results --out reports            # reports/index.html
    python -m tfcanary upgrade tf2.15 tf2.21 --results results # reports/upgrade-tf2.15-tf2.21.{html,md}

Each report is a pipeline of plain functions: :func:`load` reads the results
files into DataFrames, :mod:`tfcanary.report_matrix` (the version matrix) and
:mod:`tfcanary.report_upgrade` (A→B) shape them with :func:`claims_frame` and
:mod:`tfcanary.diff`, and a Jinja2 template in
``templates/`` renders them (HTML autoescaped; CSS and JS inline so that a
report opens from ``file://`` with no network).

Speedups plug in through one DataFrame with the columns of
:data:`SPEED_COLUMNS` (per environment and case: the eager/graph and
eager/XLA time ratios, i.e. speedups, above 1 when the compiled mode is faster,
with their confidence intervals), given with ``--speedups
FILE`` (CSV or JSON records; ``results/speed/speedups.csv`` written by
:func:`tfcanary.speed.write_csv` fits) or passed to :func:`write_matrix` /
:func:`write_upgrade` as ``speedups=``.  Without it the reports say that no
speed results were given.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from . import diff, store
from .results import write_text_atomic
from . import case as _case
from .case import Claim
from .errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
SPEED_COLUMNS = ["env", "case", "ratio_graph", "ratio_graph_lo", "ratio_graph_hi",
                 "ratio_xla", "ratio_xla_lo", "ratio_xla_hi"]
SMALL_N = 20   # below this, counts only: a percentage would claim precision n cannot give
CASE_COLUMNS = ["case", "family", "kind", "source", "url", "fidelity", "claim_error", "claim_message",
                "claim_where", "claim_versions", "doc", "file", "line"]


@dataclass
class Results:
    """What the reports read: environments, outcomes and case metadata, as DataFrames."""

    envs: Any
    outcomes: Any
    cases: Any
    # (env, case, variant, mode) -> global state the case left changed (results that record it)
    leaked: Dict[tuple, List[str]] = field(default_factory=dict)
    # {"file", "line", "message", "envs": [labels]}, one per distinct corpus error
    corpus_errors: List[Dict[str, Any]] = field(default_factory=list)


def load(paths: Sequence[os.PathLike]) -> Results:
    """Read the results under ``paths``; fingerprints recomputed by the current normalizer."""
    import pandas as pd

    if not any(Path(p).exists() for p in paths):
        raise UserError(f"Expected a results folder or file. Received: {' '.join(map(str, paths))} "
                        "(not found). Run `nox` first to probe the default matrix.")
    docs = store.read_all(paths)
    if not docs:
        raise UserError(f"Expected results files (<env>.json). Received: none under "
                        f"{' '.join(map(str, paths))}. Run `nox` first.")
    envs = store._frame((store.env_row(d) for d in docs), store.ENV_COLUMNS)
    rows: List[Dict[str, Any]] = []
    cases: Dict[str, Dict[str, Any]] = {}
    leaked: Dict[tuple, List[str]] = {}
    errors: Dict[tuple, Dict[str, Any]] = {}
    for d in docs:   # matrix order: the newest environment's metadata wins
        rows.extend(store.outcome_rows(d))
        for c in d.get("cases", []):
            claim = c.get("claim") or {}
            cases[c["id"]] = {
                "case": c["id"], "family": c.get("family"), "kind": c.get("kind"),
                "source": c.get("source") or "", "url": c.get("url") or "",
                "fidelity": c.get("fidelity") or "", "claim_error": claim.get("error"),
                "claim_message": claim.get("message", ""), "claim_where": claim.get("where", ""),
                "claim_versions": claim.get("versions") or "",
                "doc": c.get("doc") or "", "file": c.get("file"), "line": c.get("line"),
                "has_claim": c.get("claim") is not None,
            }
        for o in d.get("outcomes", []):   # older results have no "leaked"
            if o.get("leaked"):
                leaked[(d["label"], o["case"], o["variant"], o["mode"])] = [str(x) for x in o["leaked"]]
        for e in d.get("corpus_errors") or []:
            k = (str(e.get("file", "")), e.get("line"), str(e.get("message", "")))
            errors.setdefault(k, {"file": k[0], "line": k[1], "message": k[2], "envs": []})
            errors[k]["envs"].append(d["label"])
    outcomes = diff.refingerprint(store._frame(rows, store.OUTCOME_COLUMNS))
    return Results(envs, outcomes, pd.DataFrame(list(cases.values()),
                                                 columns=CASE_COLUMNS + ["has_claim"]),
                   leaked=leaked, corpus_errors=list(errors.values()))


def _env(template_name: str):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["mdcell"] = md_cell
    env.filters["fence"] = md_fence
    env.filters["pct"] = pct
    env.filters["wbr"] = wbr
    return env.get_template(template_name)


def _clean(value: Any) -> Any:
    """NaN/None -> None, so templates test one thing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _records(frame) -> List[Dict[str, Any]]:
    return [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict("records")]


# --- the version matrix -----------------------------------------------------------------

def claim_of(case_row: Optional[Dict[str, Any]]) -> Optional[Claim]:
    if not case_row or not case_row.get("has_claim"):
        return None
    return Claim(case_row.get("claim_error"), case_row.get("claim_message") or "",
                 case_row.get("claim_where") or "")


def reproduces(claim: Claim, status: Any, exc_type: Any, message: Any) -> bool:
    """Whether one observed outcome is what ``claim`` says (``Claim(None)``: it works)."""
    if claim.error is None:
        return status == "ok"
    return status == "error" and claim.matches(exc_type, message)


def claims_frame(res: Results):
    """Per case with a claim: what the source claims and where the broken variant reproduces it.

    Columns: case, family, source, claim, where, reproduced (env -> modes that
    match, only envs where some mode does), never (True when no environment
    reproduces it), envs_run.
    """
    import pandas as pd

    o = res.outcomes[res.outcomes["variant"] == "broken"]
    rows = []
    for c in _records(res.cases[res.cases["has_claim"]]):
        claim = claim_of(c)
        mine = o[o["case"] == c["case"]]
        repro: Dict[str, List[str]] = {}
        for r in _records(mine):
            if reproduces(claim, r["status"], r["exc_type"], r["message"]):
                repro.setdefault(r["env"], []).append(r["mode"])
        order = [e for e in res.envs["env"] if e in repro]
        rows.append({"case": c["case"], "family": c["family"], "source": c["source"],
                     "url": c.get("url") or "", "fidelity": c.get("fidelity") or "",
                     "versions": c.get("claim_versions") or "",
                     "claim": claim_text(claim), "where": claim.where,
                     "reproduced": {e: repro[e] for e in order}, "never": not repro,
                     "envs_run": int(mine["env"].nunique())})
    return pd.DataFrame(rows, columns=["case", "family", "source", "url", "fidelity", "versions", "claim",
                                       "where", "reproduced", "never", "envs_run"])


def claim_text(claim: Claim) -> str:
    if claim.error is None:
        return "no error"
    return claim.error + (f": “{claim.message}”" if claim.message else "")


_MODE_ORDER = list(_case.MODES)


def write_matrix(paths: Sequence[os.PathLike], out_dir: os.PathLike, speedups: Optional[Any] = None,
                 first_changed: Optional[Mapping[tuple, str]] = None,
                 asv_html: Optional[os.PathLike] = None) -> Path:
    """Render reports/index.html from the results under ``paths``; returns its path.

    See :func:`tfcanary.report_matrix.write`."""
    from . import report_matrix

    return report_matrix.write(paths, out_dir, speedups=speedups, first_changed=first_changed,
                               asv_html=asv_html)


def write_upgrade(paths: Sequence[os.PathLike], a: str, b: str, out_dir: os.PathLike,
                  speedups: Optional[Any] = None,
                  first_changed: Optional[Mapping[tuple, str]] = None) -> List[Path]:
    """Write reports/upgrade-A-B.html and .md; returns their paths.

    See :func:`tfcanary.report_upgrade.write`."""
    from . import report_upgrade

    return report_upgrade.write(paths, a, b, out_dir, speedups=speedups, first_changed=first_changed)


# --- speedups -----------------------------------------------------------------------------

def read_speedups(path: Optional[os.PathLike]):
    """The speed table from a CSV or JSON-records file, checked for :data:`SPEED_COLUMNS`."""
    if path is None:
        return None
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise UserError(f"Expected a speedups file (CSV or JSON). Received: {p} (not found).")
    frame = pd.read_csv(p) if p.suffix == ".csv" else pd.read_json(p, orient="records")
    return check_speedups(frame, str(p))


def check_speedups(frame, where: str = "speedups"):
    missing = [c for c in SPEED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"Expected speedups with columns {SPEED_COLUMNS}. "
                        f"Received: {where} without {missing}.")
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
    from . import matrix

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
    by = {(r["env"], r["case"]): r for r in _records(s)}
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
    svg = _env("speedups.svg.html").render(
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
    for r in _records(m):
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


# --- the upgrade-risk report --------------------------------------------------------------

def pct(n: int, total: int) -> str:
    """``n`` of ``total`` as a whole percentage, or nothing when ``total`` is too small for one."""
    if total < SMALL_N or total == 0:
        return ""
    return f"{round(100 * n / total)}%"


# --- shared helpers -----------------------------------------------------------------------

def wbr(name: Any):
    """``OperatorNotAllowedInGraphError`` with break opportunities before its capitals (HTML)."""
    import re

    from markupsafe import Markup, escape

    return Markup(re.sub(r"(?<=[a-z])(?=[A-Z])", "<wbr>", str(escape(name or ""))))


def md_cell(value: Any) -> str:
    """Text safe inside one Markdown table cell: no newlines, pipes escaped."""
    if value is None:
        return ""
    s = " ".join(str(value).split())
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def md_fence(text: Any) -> str:
    """``text`` in a fenced code block whose fence is longer than any backtick run inside it."""
    text = "" if text is None else str(text)
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"
