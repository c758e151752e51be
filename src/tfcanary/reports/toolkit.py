"""What the reports share: loading results, claims, template rendering and filters.

Each report (:mod:`.version_matrix`, :mod:`.upgrade`, :mod:`.check`,
:mod:`.summary`, :mod:`.speed`) is a pipeline of plain functions: :func:`load`
reads the results files into DataFrames, the report shapes them (with
:func:`claims_frame` and :mod:`tfcanary.diff`), and a Jinja2 template in
``templates/`` renders them (:func:`template`: HTML autoescaped; CSS and JS
inline so that a report opens from ``file://`` with no network).  Every name
here is public to the report modules; none of them imports the package's
front (:mod:`tfcanary.reports`).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .. import case as _case
from .. import diff, names, store
from ..case import Claim
from ..errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
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
    outcomes = _stand_ins(diff.refingerprint(store._frame(rows, store.OUTCOME_COLUMNS)))
    return Results(envs, outcomes, pd.DataFrame(list(cases.values()),
                                                 columns=CASE_COLUMNS + ["has_claim"]),
                   leaked=leaked, corpus_errors=list(errors.values()))


def _stand_ins(outcomes):
    """Per environment, the tests seen elsewhere whose module did not collect there, as that
    module's outcome (:func:`tfcanary.diff.expand_collection`): one row per test everywhere."""
    import pandas as pd

    if outcomes.empty or not (outcomes["mode"] == diff.COLLECT_MODE).any():
        return outcomes
    parts = [diff.expand_collection(outcomes[outcomes["env"] == env], outcomes[outcomes["env"] != env])
             for env in outcomes["env"].unique()]
    return pd.concat(parts, ignore_index=True)


def observed(outcomes):
    """``outcomes`` without the stand-ins :func:`load` added for display: only what was observed
    in each environment (what snapshots hold and checks compare)."""
    if "collect_of" not in outcomes:
        return outcomes
    return outcomes[outcomes["collect_of"].isna()]


def template(template_name: str):
    """The template ``templates/<template_name>`` with the reports' filters."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["mdcell"] = md_cell
    env.filters["mdcode"] = md_code
    env.filters["https"] = https
    env.filters["fence"] = md_fence
    env.filters["pct"] = pct
    env.filters["wbr"] = wbr
    return env.get_template(template_name)


def clean(value: Any) -> Any:
    """NaN/None -> None, so templates test one thing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def records(frame) -> List[Dict[str, Any]]:
    """A DataFrame as a list of dicts, NaN as None."""
    return [{k: clean(v) for k, v in r.items()} for r in frame.to_dict("records")]


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
    for c in records(res.cases[res.cases["has_claim"]]):
        claim = claim_of(c)
        mine = o[o["case"] == c["case"]]
        repro: Dict[str, List[str]] = {}
        for r in records(mine):
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


MODE_ORDER = list(_case.MODES)   # the modes in the order the probe runs them


# --- the upgrade-risk report --------------------------------------------------------------

def pct(n: int, total: int) -> str:
    """``n`` of ``total`` as a whole percentage, or nothing when ``total`` is too small for one."""
    if total < SMALL_N or total == 0:
        return ""
    return f"{round(100 * n / total)}%"


# --- shared helpers -----------------------------------------------------------------------

def wbr(name: Any):
    """``OperatorNotAllowedInGraphError`` with break opportunities before its capitals (HTML)."""
    from markupsafe import Markup, escape

    return Markup(re.sub(r"(?<=[a-z])(?=[A-Z])", "<wbr>", str(escape(name or ""))))


def md_cell(value: Any) -> str:
    """Text safe inside one Markdown table cell or line: no newlines; backslashes, pipes and
    backticks escaped; ``<`` as an entity (no HTML)."""
    if value is None:
        return ""
    s = " ".join(str(value).split())
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`").replace("<", "&lt;")


def md_code(value: Any) -> str:
    """``value`` as inline code, safe inside a Markdown table cell: whitespace runs as one
    space, a backtick fence longer than any backtick run inside, pipes escaped (a table
    splits its cells at unescaped pipes, code spans included)."""
    if value is None:
        return ""
    s = " ".join(str(value).split())
    if not s:
        return ""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s[0] == "`" or s[-1] == "`" else ""
    return f"{fence}{pad}{s}{pad}{fence}".replace("|", "\\|")


def https(value: Any) -> str:
    """``value`` when it is a link a report may show (https, see
    :func:`tfcanary.names.url_problem`), else ``""``: templates link only what this returns."""
    return value if value and not names.url_problem(value) else ""


def md_fence(text: Any) -> str:
    """``text`` in a fenced code block whose fence is longer than any backtick run inside it."""
    text = "" if text is None else str(text)
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"
