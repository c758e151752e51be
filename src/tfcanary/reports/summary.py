"""The short text summary: per environment, how many outcomes of each status."""

from __future__ import annotations

import math
import os
from typing import Any, List, Sequence

from .. import matrix, store
from ..errors import UserError

STATUS_ORDER = ["ok", "error", "crash", "timeout", "skip"]


def _text(value: Any) -> str:
    """A cell: '-' for a missing value (None, or NaN in a pandas frame)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value)


def render(paths: Sequence[os.PathLike], expected: Sequence[str] = ()) -> str:
    """The summary table for the results under ``paths``, then what went wrong.

    An environment that was not probed (install failed, probe failed) shows '-'
    for its counts, not zeros; its status says why, and the installer's last
    line follows the table.  Corpus errors are listed by file, line and message.
    ``expected`` labels with no results file are listed as not run, with the
    likely reason when it can be known here (a missing interpreter).
    """
    docs = store.read_all(paths)
    if not docs:
        raise UserError(f"Expected results files (<env>.json). Received: none under "
                        f"{' '.join(map(str, paths))}. Run `nox` or `tfcanary run` first.")
    envs, outcomes = store.frames(docs)
    lines: List[str] = []
    header = f"{'environment':<18} {'status':<15} {'tensorflow':<22} {'keras':<20} " + " ".join(
        f"{s:>7}" for s in STATUS_ORDER) + "  corpus-errors"
    lines.append(header)
    lines.append("-" * len(header))
    counts = outcomes.groupby(["env", "status"]).size() if len(outcomes) else None
    for _, env in envs.iterrows():
        probed = env["status"] == "ok" or int(env["n_outcomes"]) > 0
        cells = []
        for s in STATUS_ORDER:
            n = int(counts.get((env["env"], s), 0)) if counts is not None else 0
            cells.append(f"{n if probed else '-':>7}")
        lines.append(f"{env['env']:<18} {env['status']:<15} {_text(env['tensorflow']):<22} "
                     f"{_text(env['keras']):<20} " + " ".join(cells)
                     + f"  {int(env['n_corpus_errors']) if probed else '-':>13}")
    for _, env in envs.iterrows():
        if env["status"] != "ok" and _text(env["message"]) != "-":
            # uv and pip put the conclusion on the last line of their message.
            msg = [ln.strip() for ln in str(env["message"]).splitlines() if ln.strip()]
            lines.append(f"{env['env']}: {env['status']}: " + (msg[-1] if msg else ""))
    errors = store.corpus_errors(docs)
    if errors:
        lines.append(f"corpus errors ({len(errors)}):")
        everywhere = set(envs["env"][envs["n_outcomes"] > 0]) or set(envs["env"])
        for e in errors:
            where = "" if set(e["envs"]) >= everywhere else f"  [{', '.join(e['envs'])}]"
            lines.append(f"  {e['file']}:{e['line']}: {e['message']}{where}")
    missing = [l for l in expected if l not in set(envs["env"])]
    if missing:
        from ..envs.install import find_interpreter

        for label in missing:
            why = "no results file (session not run or skipped)"
            try:
                entry = matrix.get(label)
                if find_interpreter(entry.python) is None:
                    why = f"skipped: needs Python {entry.python}, which is not installed here"
            except matrix.MatrixError:
                pass
            lines.append(f"{label}: {why}")
    return "\n".join(lines) + "\n"
