"""The short text summary: per environment, how many outcomes of each status."""

from __future__ import annotations

import os
from typing import List, Sequence

from . import matrix, store

STATUS_ORDER = ["ok", "error", "crash", "timeout", "skip"]


def render(paths: Sequence[os.PathLike], expected: Sequence[str] = ()) -> str:
    """The summary table for the results under ``paths``.

    ``expected`` labels with no results file are listed as not run, with the
    likely reason when it can be known here (a missing interpreter).
    """
    envs, outcomes = store.load(paths)
    lines: List[str] = []
    header = f"{'environment':<18} {'status':<15} {'tensorflow':<22} {'keras':<20} " + " ".join(
        f"{s:>7}" for s in STATUS_ORDER) + "  corpus-errors"
    lines.append(header)
    lines.append("-" * len(header))
    counts = outcomes.groupby(["env", "status"]).size() if len(outcomes) else None
    for _, env in envs.iterrows():
        cells = []
        for s in STATUS_ORDER:
            n = int(counts.get((env["env"], s), 0)) if counts is not None else 0
            cells.append(f"{n:>7}")
        lines.append(f"{env['env']:<18} {env['status']:<15} {str(env['tensorflow'] or '-'):<22} "
                     f"{str(env['keras'] or '-'):<20} " + " ".join(cells)
                     + f"  {int(env['n_corpus_errors']):>13}")
    for _, env in envs.iterrows():
        if env["status"] != "ok" and env["message"]:
            # uv and pip put the conclusion on the last line of their message.
            msg = [ln.strip() for ln in str(env["message"]).splitlines() if ln.strip()]
            lines.append(f"{env['env']}: {env['status']}: " + (msg[-1] if msg else ""))
    missing = [l for l in expected if l not in set(envs["env"])]
    if missing:
        from .envs import find_interpreter

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
