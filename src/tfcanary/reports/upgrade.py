"""The upgrade-risk report A→B: a verdict line, the counts, the findings grouped per case.

    python -m tfcanary upgrade tf2.15 tf2.21 --results results # reports/upgrade-tf2.15-tf2.21.{html,md}

:func:`context` shapes :func:`tfcanary.diff.transitions` of the two
environments for the templates ``upgrade.html`` and ``upgrade.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import diff, matrix
from ..case import MODES
from ..errors import UserError
from ..results import file_in, write_text_atomic
from .speed import speed_moves
from .toolkit import SMALL_N, Results, load, pct, records, template

HIGH = ("newly-failing", "stopped-collecting", "class-changed", "became-crash", "became-timeout")
LOW = ("message-changed", "crash-to-error")
FAILING = ("error", "crash", "timeout")


def _check(res: Results, a: str, b: str) -> Dict[str, Dict[str, Any]]:
    have = list(res.envs["env"])
    for label in (a, b):
        if label not in have:
            try:
                matrix.get(label)
            except matrix.MatrixError as exc:
                raise UserError(str(exc)) from None
            raise UserError(f"Expected results for environment {label!r}. Received: results for "
                            f"{', '.join(have) or 'none'}. Run `nox -s {label}` first.")
    if a == b:
        raise UserError(f"Expected two different environments. Received: {a!r} twice.")
    envs = {r["env"]: r for r in records(res.envs)}
    for label in (a, b):
        if envs[label]["status"] != "ok":
            raise UserError(f"Expected results of a completed probe for {label!r}. Received: status "
                            f"{envs[label]['status']!r}. Rerun `nox -s {label}`.")
    return envs


def group(rows: List[Dict[str, Any]], first_changed: Mapping[tuple, str]) -> List[Dict[str, Any]]:
    """One finding per (case, variant): the modes affected, and per distinct change of status
    and class one representative row (``pairs``, its first mode's messages), so the same
    change is shown once."""
    rank = {m: i for i, m in enumerate(MODES)}
    out: Dict[tuple, Dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["case"], r["variant"], rank.get(r["mode"], len(rank)))):
        g = out.setdefault((r["case"], r["variant"]), {
            "case": r["case"], "variant": r["variant"], "case_info": r["case_info"], "modes": [],
            "changes": [], "risk": r["risk"], "pairs": {}, "first_changed": []})
        g["modes"].append(r["mode"])
        if r["change"] not in g["changes"]:
            g["changes"].append(r["change"])
        if r["risk"] == "high":
            g["risk"] = "high"
        # Same change of status and class: shown once, whatever the messages' details.
        key = (r["change"], r["a_status"], r.get("a_short_type") or "", r["b_status"],
               r.get("b_short_type") or "")
        p = g["pairs"].setdefault(key, {"row": r, "modes": []})
        p["modes"].append(r["mode"])
        fc = first_changed.get((r["case"], r["variant"], r["mode"]))
        if fc and fc not in g["first_changed"]:
            g["first_changed"].append(fc)
    for g in out.values():
        g["pairs"] = list(g["pairs"].values())
    return list(out.values())


def verdict(a: str, b: str, t: Any, cases: Mapping[str, Any]) -> Dict[str, Any]:
    """The one line a release manager pastes into a ticket, and its parts.

    Cases and a team's own tests are counted apart (a test is one outcome, a
    case several): "4 of 19 tests newly fail (2 no longer collect) ..." first
    when there are tests, then the cases' sentence."""
    compared = t[~t["change"].isin(["added", "removed"])]
    tests = compared[compared["variant"] == diff.TEST_VARIANT]
    corpus = compared[compared["variant"] != diff.TEST_VARIANT]
    high = compared[compared["risk"] == "high"]
    low = compared[compared["risk"] == "low"]
    level = "high risk" if len(high) else "low risk" if len(low) else "no change in outcomes"
    fixed = corpus[corpus["variant"] == "fixed"]
    n_fixes = int(fixed["case"].nunique())
    broken_fixes = sorted(fixed[fixed["b_status"].isin(FAILING)]["case"].unique())
    parts = _test_parts(tests, b) if len(tests) else []
    if len(corpus) or not len(tests):
        parts += _case_parts(corpus, b, n_fixes, broken_fixes)
    line = f"{a} → {b}: {level}" + (" — " + "; ".join(parts) if parts else "")
    return {"line": line, "level": level, "n_fixes": n_fixes, "broken_fixes": broken_fixes}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _test_parts(tests: Any, b: str) -> List[str]:
    """The tests' part of the verdict: newly failing (of which no longer collecting), another
    exception class, a message only, now passing."""
    per_test = tests[tests["mode"] != diff.COLLECT_MODE]
    n = int(per_test["case"].nunique())
    failing = per_test[per_test["change"].isin(("newly-failing", "stopped-collecting", "became-crash",
                                                "became-timeout"))]
    stopped = per_test[per_test["change"] == "stopped-collecting"]
    other = per_test[per_test["change"] == "class-changed"]
    msg = per_test[per_test["change"] == "message-changed"]
    works = per_test[per_test["change"] == "now-works"]
    parts = []
    if len(failing):
        n_stopped = stopped["case"].nunique()
        parts.append(f"{failing['case'].nunique()} of {n} tests newly fail in {b}"
                     + (f" ({n_stopped} no longer collect{'s' if n_stopped == 1 else ''})"
                        if n_stopped else ""))
    for rows, one, many in ((other, "raises another exception class", "raise another exception class"),
                            (msg, "fails with another message", "fail with another message"),
                            (works, "now passes", "now pass")):
        k = int(rows["case"].nunique())
        if k:
            parts.append(f"{_plural(k, 'test')} {one if k == 1 else many}")
    if not parts:
        parts.append(f"all {n} tests as before")
    return parts


def _case_parts(compared: Any, b: str, n_fixes: int, broken_fixes: List[str]) -> List[str]:
    """The cases' part of the verdict; ``n_fixes`` and ``broken_fixes`` as :func:`verdict`
    counted them."""
    n_cases = int(compared["case"].nunique())
    high = compared[compared["risk"] == "high"]
    low = compared[compared["risk"] == "low"]
    parts = []
    if len(high):
        parts.append(f"{high['case'].nunique()} of {n_cases} cases change their exception class or "
                     f"start failing ({len(high)} outcome{'s' if len(high) != 1 else ''})")
    if len(low):
        nc = low["case"].nunique()
        parts.append(f"{nc} case{'s' if nc != 1 else ''} change{'' if nc != 1 else 's'} only a message "
                     f"({len(low)} outcome{'s' if len(low) != 1 else ''})")
    if n_fixes:
        if broken_fixes:
            parts.append(f"{len(broken_fixes)} of {n_fixes} documented fixes fail in {b} "
                         f"({', '.join(broken_fixes[:5])}{', …' if len(broken_fixes) > 5 else ''})")
        else:
            parts.append(f"all {n_fixes} documented fixes still work")
    return parts


def context(res: Results, a: str, b: str, speedups: Optional[Any] = None,
            first_changed: Optional[Mapping[tuple, str]] = None) -> Dict[str, Any]:
    """Everything the upgrade templates show, from the results of environments ``a`` and ``b``."""
    import pandas as pd

    envs = _check(res, a, b)
    first_changed = first_changed or {}
    o = res.outcomes
    t = diff.transitions(o[o["env"] == a], o[o["env"] == b])
    cases = {c["case"]: c for c in records(res.cases)}
    t = t.assign(source=t["case"].map(lambda c: (cases.get(c) or {}).get("source", "")))
    compared = t[~t["change"].isin(["added", "removed"])]
    n = len(compared)
    by_variant = pd.crosstab(t["change"], t["variant"]).reindex(list(diff.CHANGES), fill_value=0)
    counts = []
    for c in diff.counts(t):
        counts.append({**c, "pct": pct(c["n"], n) if c["change"] not in ("added", "removed") else "",
                       "by_variant": {v: int(by_variant.at[c["change"], v]) if v in by_variant else 0
                                      for v in ("broken", "fixed", diff.TEST_VARIANT)}})
    rows = records(t)
    for r in rows:
        r["a_text"], r["b_text"] = diff.describe("a", r), diff.describe("b", r)
        r["case_info"] = cases.get(r["case"]) or {}

    def pick(*changes: str) -> List[Dict[str, Any]]:
        return [r for r in rows if r["change"] in changes]
    high = pick(*HIGH)
    return {
        "a": envs[a], "b": envs[b], "n": n, "n_total": len(t), "small": n < SMALL_N,
        "n_cases": int(compared["case"].nunique()), "counts": counts,
        "n_tests": int(compared[compared["variant"] == diff.TEST_VARIANT]["case"].nunique()),
        "verdict": verdict(a, b, t, cases),
        "n_high": len(high),
        "n_fixed_variant_high": sum(r["variant"] == "fixed" for r in high),
        "high": group(high, first_changed), "low": group(pick(*LOW), first_changed),
        "now_works": pick("now-works"), "info": pick("skip-changed", "added", "removed"),
        "unchanged": int((t["change"] == "unchanged").sum()),
        "speed_given": speedups is not None and len(speedups) > 0,
        "speed_moves": records(speed_moves(speedups, a, b)),
    }


def write(paths: Sequence[os.PathLike], a: str, b: str, out_dir: os.PathLike,
          speedups: Optional[Any] = None,
          first_changed: Optional[Mapping[tuple, str]] = None) -> List[Path]:
    """Write ``out_dir/upgrade-A-B.html`` and ``.md``; returns their paths.

    ``first_changed``: {(case, variant, mode): text} from a bisection, shown
    beside the findings it covers."""
    ctx = context(load(paths), a, b, speedups, first_changed)
    out = []
    for ext in ("html", "md"):
        p = file_in(out_dir, f"upgrade-{a}-{b}.{ext}")
        write_text_atomic(p, template(f"upgrade.{ext}").render(**ctx))
        out.append(p)
    return out
