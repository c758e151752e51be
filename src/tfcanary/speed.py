"""Speed results: read the timer's files, load them as a DataFrame, print the table.

    df = load_speed(["results/speed"])      # one row per (env, case)
    print(render(["results/speed"]))        # the ratio table, CIs included
    write_csv(["results/speed"], "results/speed/speedups.csv")   # for the reports

One file per environment, ``results/speed/<label>.json``, written by
:mod:`tfcanary._timer` (layout: see there; ``"kind": "speed"``, schema
:data:`SCHEMA_VERSION`).  Raw samples stay in the file; the figures here are
its stored summary (:func:`tfcanary.timing.summarize`).  pandas is imported
only by :func:`load_speed`; the rest is standard library.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from . import matrix, results

SCHEMA_VERSION = 1

COLUMNS = [
    "env", "case", "family", "status", "device",
    "ratio_graph", "ratio_graph_lo", "ratio_graph_hi", "ratio_graph_hw",
    "ratio_xla", "ratio_xla_lo", "ratio_xla_hi", "ratio_xla_hw",
    "eager_median_s", "graph_median_s", "xla_median_s",
    "eager_first_s", "trace_s", "compile_s", "retraced", "runs", "errors",
    "tensorflow", "keras", "threads",
]


def read(path: os.PathLike) -> Dict[str, Any]:
    """A speed results file; a newer schema is refused, as for outcomes files."""
    return results.read(path, kind="speed", version=SCHEMA_VERSION)


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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, out)
    return out


def _ratio(r: Dict[str, Any], name: str) -> str:
    v = r.get(f"ratio_{name}")
    if v is None:
        return "-"
    return f"{v:6.2f} [{r[f'ratio_{name}_lo']:.2f}, {r[f'ratio_{name}_hi']:.2f}] ±{100 * r[f'ratio_{name}_hw']:.1f}%"


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
