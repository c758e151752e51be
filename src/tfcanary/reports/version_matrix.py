"""The version matrix, reports/index.html: one row per (case, variant), one column per environment.

    python -m tfcanary report results --out reports

Each cell is a strip of small marks, one per mode in a fixed order, coloured
by outcome, so that where a case breaks and in which modes reads at a glance.
Columns are grouped (Keras 2, Keras 3 as released, Keras 3 latest, nightly,
tf-keras); a column is compared with its left neighbour only when that is an
earlier version on the same or the older Keras API (:func:`comparable`), and
a changed mode is marked *high* (status or class changed) or *low* (message
only).  The per-mode details (class, normalized and raw message, fingerprint,
frame, leaked state) are not repeated in every cell: they travel once, as a
JSON table keyed by fingerprint, and the page's script shows them when a cell
is clicked.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .. import diff, matrix
from ..results import write_text_atomic
from . import speed, toolkit
from .freshness import newest
from .toolkit import Results

# (id, title): the column groups, left to right.
GROUPS = [("keras2", "Keras 2"), ("released", "Keras 3 as released"), ("latest", "Keras 3 latest"),
          ("nightly", "nightly"), ("tf-keras", "tf-keras (Keras 2 API)"), ("other", "other")]
STATUS_CODE = {"ok": "o", "error": "e", "crash": "c", "timeout": "t", "skip": "s"}
# The default of each field of a page-data entry (see page_data), dropped when trailing.
_DEFAULTS = [(), ("",), (-1,), (-1,), (-1,), ([],), ("",)]


def group_of(env: Mapping[str, Any]) -> str:
    """Which column group an environment row (from :func:`tfcanary.reports.toolkit.load`) belongs to."""
    label = env["env"]
    entry = matrix.by_label().get(label)
    flavour = env.get("flavour") or (entry.flavour if entry else None)
    kind = env.get("kind") or (entry.kind if entry else None)
    if kind == "nightly" or label == "nightly":
        return "nightly"
    if flavour == "keras2":
        return "keras2"
    if flavour == "tf-keras":
        return "tf-keras"
    if flavour == "keras3":
        return "released" if kind == "released" else "latest"
    return "other"


def _tf_version(label: str) -> Tuple[int, ...]:
    if label == "nightly":
        return (10 ** 6,)
    m = re.match(r"tf(\d+)\.(\d+)", label)
    return (int(m.group(1)), int(m.group(2))) if m else (0,)


def comparable(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Whether ``right`` is a version step from ``left``: TensorFlow does not go back, and
    the Keras API does not go from Keras 3 back to Keras 2 (``tf2.21`` → ``tf2.21-legacy``)."""
    keras2 = ("keras2", "tf-keras")
    if group_of(left) not in keras2 and group_of(right) in keras2:
        return False
    return _tf_version(left["env"]) <= _tf_version(right["env"])


def columns(res: Results) -> List[Dict[str, Any]]:
    """The environment rows in column order (by group, then version), each with ``group``,
    ``group_title`` and ``base``: the label it is compared with, or None."""
    titles = dict(GROUPS)
    rank = {g: i for i, (g, _) in enumerate(GROUPS)}
    envs = [dict(e, group=group_of(e)) for e in toolkit.records(res.envs)]
    envs = sorted(envs, key=lambda e: rank[e["group"]])   # stable: matrix order within a group
    for i, e in enumerate(envs):
        e["group_title"] = titles[e["group"]]
        left = envs[i - 1] if i else None
        e["base"] = left["env"] if left is not None and comparable(left, e) else None
    return envs


def _mark(change: str) -> Optional[str]:
    if change in ("unchanged", "added", "removed"):
        return None
    return "low" if change == "message-changed" else "high"


def _outcome_text(o: Optional[Mapping[str, Any]]) -> str:
    if o is None:
        return "absent"
    return o.get("short_type") or o["status"] if o["status"] == "error" else o["status"]


def rows(res: Results, first_changed: Optional[Mapping[tuple, str]] = None) -> List[Dict[str, Any]]:
    """One dict per (case, variant): per column, the outcome of each mode and its change mark.

    ``first``: the first environment in matrix (version) order whose outcome
    of some mode differs from the oldest environment's, what it became and in
    which modes; ``first_changed`` (bisection: {(case, variant, mode): text})
    supersedes that guess for the modes it covers.
    """
    cols = columns(res)
    order = [e["env"] for e in toolkit.records(res.envs)]   # matrix (version) order
    first_changed = first_changed or {}
    cells: Dict[tuple, Dict[str, Any]] = {}
    keys: Dict[tuple, Dict[str, Any]] = {}
    for r in toolkit.records(res.outcomes):
        cells[(r["case"], r["variant"], r["mode"], r["env"])] = r
        k = keys.setdefault((r["case"], r["variant"]), {"case": r["case"], "variant": r["variant"],
                                                         "family": r["family"], "kind": r["kind"],
                                                         "modes": set()})
        k["modes"].add(r["mode"])
    mode_rank = {m: i for i, m in enumerate(toolkit.MODE_ORDER)}
    cases = {c["case"]: c for c in toolkit.records(res.cases)}
    out = []
    for key in sorted(keys, key=lambda k: (keys[k]["family"] or "", k[0], k[1])):
        k = keys[key]
        modes = sorted(k["modes"], key=lambda m: (mode_rank.get(m, len(mode_rank)), m))
        if k["kind"] == "layer" or len(modes) > 1:   # a layer row keeps every mode's place
            modes = [m for m in toolkit.MODE_ORDER if m != "script"] + \
                [m for m in modes if m not in toolkit.MODE_ORDER or m == "script"]
        row_cells, any_mark = [], False
        for e in cols:
            outs = [cells.get(key + (m, e["env"])) for m in modes]
            if not any(outs):
                row_cells.append(None)
                continue
            marks: List[Optional[str]] = [None] * len(modes)
            if e["base"] is not None:
                for i, m in enumerate(modes):
                    left = cells.get(key + (m, e["base"]))
                    marks[i] = _mark(diff.classify(left, outs[i])) if left and outs[i] else None
            worst = "high" if "high" in marks else "low" if "low" in marks else None
            any_mark = any_mark or worst is not None
            leaked = [bool(res.leaked.get((e["env"],) + key + (m,))) for m in modes]
            row_cells.append({"env": e["env"], "outcomes": outs, "marks": marks, "mark": worst,
                              "leaked": any(leaked)})
        first = _first_change(key, modes, order, cells, first_changed)
        claim = toolkit.claim_of(cases.get(k["case"])) if k["variant"] == "broken" else None
        label = k["case"]
        if k["variant"] == diff.TEST_VARIANT and k["family"] and label.startswith(k["family"] + "::"):
            label = label[len(k["family"]) + 2:]     # a test under its module's heading: its name
        out.append({**{n: k[n] for n in ("case", "variant", "family", "kind")}, "label": label, "modes": modes,
                    "cells": row_cells, "first": first, "changes": any_mark or first is not None,
                    "claim": None if claim is None else toolkit.claim_text(claim),
                    "claimed_on": [] if claim is None else [
                        e["env"] for e in cols if any(
                            (o := cells.get(key + (m, e["env"]))) is not None
                            and toolkit.reproduces(claim, o["status"], o["exc_type"], o["message"])
                            for m in modes)]})
    return out


def _change_text(change: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    if change == "message-changed":
        return "message changed"
    return f"{_outcome_text(old)} → {_outcome_text(new)}"


def _first_change(key: tuple, modes: List[str], order: List[str], cells: Dict[tuple, Any],
                  bisected: Mapping[tuple, str]) -> Optional[Dict[str, Any]]:
    """Per mode, the first environment (in ``order``) whose outcome differs from the oldest
    one's, and the first whose status or class differs; then the row's lines: the earliest
    change, and the earliest status/class change when that came later."""
    per_mode: Dict[str, Dict[str, Any]] = {}
    high: Dict[str, Dict[str, Any]] = {}
    for m in modes:
        if key + (m,) in bisected:
            per_mode[m] = {"env": None, "text": f"first changed in {bisected[key + (m,)]}",
                           "bisected": True, "risk": "high"}
            continue
        seen = [(env, cells[key + (m, env)]) for env in order if key + (m, env) in cells]
        for env, o in seen[1:]:
            change = diff.classify(seen[0][1], o)
            mark = _mark(change)
            if mark is None:
                continue
            entry = {"env": env, "text": _change_text(change, seen[0][1], o), "bisected": False,
                     "risk": mark}
            per_mode.setdefault(m, entry)
            if mark == "high":
                high[m] = entry
                break
    if not per_mode:
        return None
    rank = {env: i for i, env in enumerate(order)}

    def line(entries: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
        lead_mode = min(entries, key=lambda m: (not entries[m]["bisected"],
                                                rank.get(entries[m]["env"], -1), modes.index(m)))
        lead = entries[lead_mode]
        same = [m for m in modes if m in entries and entries[m]["env"] == lead["env"]
                and entries[m]["text"] == lead["text"]]
        return {**lead, "modes": same, "more": len(entries) - len(same)}

    lines = [line(per_mode)]
    if lines[0]["risk"] == "low" and high:
        lines.append(line(high))
    return {**lines[0], "lines": lines, "per_mode": per_mode}


def page_data(res: Results, cols: List[Dict[str, Any]], rows_: List[Dict[str, Any]]) -> str:
    """The JSON the page's script reads: every message stored once, cells refer to it.

    ``M``: fingerprint -> [class, normalized message]; ``R``: per row, per
    column index, one entry per mode: [status code, fingerprint, raw message,
    frame, reason, leaked (list), mark] without its trailing defaults, 1 for a
    plain "ok", or 0 where the mode was not probed.  Short
    strings are indexes into ``S``; messages are indexes into ``T``, each a
    list of line numbers in ``L``: raw messages of one fingerprint differ in a
    line or two (an address, a graph name), so their lines are stored once.
    """
    strings: Dict[str, int] = {}
    lines: Dict[str, int] = {}
    texts: Dict[str, int] = {}

    def s(value: Any) -> int:
        if value is None or value == "":
            return -1
        return strings.setdefault(str(value), len(strings))

    def t(value: Any) -> int:
        if value is None or value == "":
            return -1
        return texts.setdefault(str(value), len(texts))

    messages: Dict[str, List[int]] = {}
    data_rows = []
    for r in rows_:
        per_col: Dict[str, Any] = {}
        for ci, cell in enumerate(r["cells"]):
            if cell is None:
                continue
            entries: List[Any] = []
            for m, o, mark in zip(r["modes"], cell["outcomes"], cell["marks"]):
                if o is None:
                    entries.append(0)
                    continue
                fp = o.get("fingerprint") if o["status"] == "error" else None
                if fp and fp not in messages:
                    messages[fp] = [s(o.get("exc_type")), t(o.get("normalized"))]
                leaked = res.leaked.get((cell["env"], r["case"], r["variant"], m)) or []
                entry = [STATUS_CODE.get(o["status"], o["status"]), fp or "",
                         t(o.get("message")) if fp else -1, s(o.get("frame")), s(o.get("reason")),
                         [s(x) for x in leaked], mark or ""]
                while len(entry) > 1 and entry[-1] in _DEFAULTS[len(entry) - 1]:
                    entry.pop()   # trailing defaults: the page fills them back in
                entries.append(1 if entry == ["o"] else entry)
            per_col[str(ci)] = entries
        first = r["first"]
        data_rows.append({"m": r["modes"], "c": per_col,
                          "f": {m: _first_text(v) for m, v in (first or {}).get("per_mode", {}).items()}})
    table = [[lines.setdefault(line, len(lines)) for line in text.split("\n")] for text in texts]
    data = {"S": list(strings), "L": list(lines), "T": table, "M": messages, "R": data_rows,
            "E": [{"env": e["env"], "tf": e.get("tensorflow"), "keras": e.get("keras"),
                   "python": e.get("python"), "date": (e.get("date") or "")[:16].replace("T", " "),
                   "base": e["base"]} for e in cols]}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    # Inside <script>: no "</script>" or "<!--" may appear, whatever the messages say.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _first_text(f: Mapping[str, Any]) -> str:
    return f["text"] if f["bisected"] else f"{f['env']}: {f['text']}"


def freshness(cols: List[Dict[str, Any]], newest_date: Any = None) -> Dict[str, Any]:
    """The newest and oldest probe dates, and the environments a day or more older than the newest.

    ``newest_date``: :func:`tfcanary.reports.freshness.newest` of the results (the date
    ``check --max-age`` and the asv banner show), when given."""
    import datetime as dt

    def parse(s: Any) -> Optional[dt.datetime]:
        try:
            d = dt.datetime.fromisoformat(str(s))
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)

    dated = [(e["env"], parse(e.get("date"))) for e in cols if e.get("date")]
    dated = [(env, d) for env, d in dated if d is not None]
    if not dated:
        return {"newest": None, "oldest": None, "stale": []}
    newest = max(dated, key=lambda x: x[1])
    oldest = min(dated, key=lambda x: x[1])
    if newest_date is not None:
        newest = (next((env for env, d in dated if d == newest_date), newest[0]), newest_date)
    fmt = "%Y-%m-%d %H:%M UTC"
    return {"newest": newest[1].astimezone(dt.timezone.utc).strftime(fmt), "newest_env": newest[0],
            "oldest": oldest[1].astimezone(dt.timezone.utc).strftime(fmt), "oldest_env": oldest[0],
            "stale": [env for env, d in dated if (newest[1] - d).total_seconds() >= 86400]}


def links(out_dir: Path, asv_html: Optional[os.PathLike]) -> Dict[str, Any]:
    """The upgrade reports next to index.html, and the asv dashboards (relative link, or None)."""
    from urllib.parse import quote

    upgrades = sorted(p.name for p in out_dir.glob("upgrade-*.html")) if out_dir.is_dir() else []
    asv = Path(asv_html) if asv_html is not None else Path(".asv") / "html"
    asv_link = None
    if (asv / "index.html").exists():   # relative links, quoted: a file name never reads as a scheme
        asv_link = quote(Path(os.path.relpath(asv.resolve() / "index.html", out_dir.resolve())).as_posix())
    return {"upgrades": [{"href": quote(n), "title": n[len("upgrade-"):-len(".html")].replace("-tf", " → tf")
                          .replace("-nightly", " → nightly")} for n in upgrades],
            "asv": asv_link}


def write(paths: Sequence[os.PathLike], out_dir: os.PathLike, speedups: Optional[Any] = None,
          first_changed: Optional[Mapping[tuple, str]] = None,
          asv_html: Optional[os.PathLike] = None) -> Path:
    """Render ``out_dir/index.html`` from the results under ``paths``; returns its path.

    ``first_changed``: {(case, variant, mode): "keras 3.5.0 (3.4.1 before)"}
    from a bisection; ``asv_html``: the asv dashboards folder (default
    ``.asv/html``), linked when it holds an index.html.
    """
    res = toolkit.load(paths)
    cols = columns(res)
    rows_ = rows(res, first_changed)
    claims = toolkit.claims_frame(res)
    groups: List[Dict[str, Any]] = []
    for e in cols:
        if groups and groups[-1]["id"] == e["group"]:
            groups[-1]["n"] += 1
        else:
            groups.append({"id": e["group"], "title": e["group_title"], "n": 1})
    out = Path(out_dir)
    html = toolkit.template("index.html").render(
        envs=cols, groups=groups, rows=rows_, n_rows=len(rows_),
        n_changing=sum(r["changes"] for r in rows_),
        n_outcomes=len(res.outcomes), not_compared=[e["env"] for e in cols[1:] if e["base"] is None],
        families=sorted(res.outcomes["family"].dropna().unique()),
        variants=sorted(res.outcomes["variant"].dropna().unique()),
        modes=[m for m in toolkit.MODE_ORDER if m in set(res.outcomes["mode"])],
        codes=STATUS_CODE, fresh=freshness(cols, newest(paths)), corpus_errors=res.corpus_errors,
        links=links(out, asv_html), data=page_data(res, cols, rows_),
        claims=toolkit.records(claims), n_claims=len(claims), n_never=int(claims["never"].sum()),
        speed_chart=speed.speedup_chart(speedups), n_speed=0 if speedups is None else len(speedups))
    path = out / "index.html"
    write_text_atomic(path, html)
    return path
