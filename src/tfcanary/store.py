"""Load results files into pandas DataFrames with named columns.

    outcomes = load_outcomes(["results"])        # one row per (env, case, variant, mode)
    envs = load_environments(["results"])         # one row per environment

Environments come in matrix (version) order.  Files with a newer schema are
refused (:class:`tfcanary.results.ResultsError`), older ones migrated.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Sequence, Tuple

from . import matrix, results
from .outcome import Outcome

OUTCOME_COLUMNS = [
    "env", "case", "family", "kind", "variant", "mode", "status", "exc_type", "short_type",
    "message", "normalized", "fingerprint", "frame", "reason", "duration_s",
    "tensorflow", "keras", "python",
]
ENV_COLUMNS = [
    "env", "status", "flavour", "kind", "released", "python", "tensorflow", "keras", "numpy",
    "devices", "date", "install_s", "install_reused", "import_s", "probe_s", "n_outcomes",
    "n_corpus_errors", "message",
]


def read_all(paths: Sequence[os.PathLike]) -> List[Dict[str, Any]]:
    """Every results document under ``paths``, in matrix order."""
    docs = [results.read(p) for p in results.find(list(paths))]
    return matrix.order([d for d in docs if "label" in d], key=lambda d: d["label"])


def _frame(rows: Iterable[Dict[str, Any]], columns: List[str]):
    import pandas as pd

    return pd.DataFrame(list(rows), columns=columns)


def outcome_rows(doc: Dict[str, Any]) -> Iterable[Dict[str, Any]]:
    meta = doc.get("metadata") or {}
    cases = {c["id"]: c for c in doc.get("cases", [])}
    for raw in doc.get("outcomes", []):
        o = Outcome.from_dict(raw)
        c = cases.get(o.case, {})
        yield {
            "env": doc["label"], "case": o.case, "family": c.get("family"), "kind": c.get("kind"),
            "variant": o.variant, "mode": o.mode, "status": o.status.value,
            "exc_type": o.exc_type, "short_type": o.short_type, "message": o.message,
            "normalized": o.normalized, "fingerprint": o.fingerprint, "frame": o.frame,
            "reason": o.reason, "duration_s": o.duration_s,
            "tensorflow": meta.get("tensorflow"), "keras": meta.get("keras"),
            "python": meta.get("python"),
        }


def env_row(doc: Dict[str, Any]) -> Dict[str, Any]:
    meta = doc.get("metadata") or {}
    env = doc.get("env") or {}
    inst = doc.get("install") or {}
    timing = doc.get("timing") or {}
    devices = meta.get("devices") or []
    return {
        "env": doc["label"], "status": doc["status"], "flavour": env.get("flavour"),
        "kind": env.get("kind"), "released": env.get("released"),
        "python": meta.get("python"), "tensorflow": meta.get("tensorflow"),
        "keras": meta.get("keras"), "numpy": meta.get("numpy"),
        "devices": ", ".join(d.get("description") or d.get("type", "") for d in devices),
        "date": meta.get("date"), "install_s": inst.get("seconds"),
        "install_reused": inst.get("reused"), "import_s": timing.get("import_s"),
        "probe_s": timing.get("probe_s"), "n_outcomes": len(doc.get("outcomes", [])),
        "n_corpus_errors": len(doc.get("corpus_errors", [])), "message": doc.get("message"),
    }


def load_outcomes(paths: Sequence[os.PathLike]):
    """All outcomes under ``paths`` as a DataFrame (columns: OUTCOME_COLUMNS)."""
    rows: List[Dict[str, Any]] = []
    for doc in read_all(paths):
        rows.extend(outcome_rows(doc))
    return _frame(rows, OUTCOME_COLUMNS)


def load_environments(paths: Sequence[os.PathLike]):
    """One row per environment (columns: ENV_COLUMNS), in matrix order."""
    return _frame((env_row(d) for d in read_all(paths)), ENV_COLUMNS)


def load(paths: Sequence[os.PathLike]) -> Tuple[Any, Any]:
    """(environments, outcomes), reading each file once."""
    docs = read_all(paths)
    rows: List[Dict[str, Any]] = []
    for d in docs:
        rows.extend(outcome_rows(d))
    return _frame((env_row(d) for d in docs), ENV_COLUMNS), _frame(rows, OUTCOME_COLUMNS)
