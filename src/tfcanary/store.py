"""Load results files into pandas DataFrames with named columns.

    outcomes = load_outcomes(["results"])        # one row per (env, case, variant, mode)
    envs = load_environments(["results"])         # one row per environment

Environments come in matrix (version) order.  Files with a newer schema are
refused (:class:`tfcanary.results.ResultsError`), older ones migrated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import matrix, names, results
from .outcome import Outcome

OUTCOME_COLUMNS = [
    "env", "case", "family", "kind", "variant", "mode", "status", "exc_type", "short_type",
    "message", "normalized", "fingerprint", "frame", "reason", "duration_s",
    "tensorflow", "keras", "python", "normalizer_version", "phase", "xfail",
]
OTHER_KINDS = ("bisect", "speed")   # files that may sit beside results files and are read elsewhere
ENV_COLUMNS = [
    "env", "status", "flavour", "kind", "released", "python", "tensorflow", "keras", "numpy",
    "devices", "date", "install_s", "install_reused", "import_s", "probe_s", "n_outcomes",
    "n_corpus_errors", "message",
]


def read_all(paths: Sequence[os.PathLike]) -> List[Dict[str, Any]]:
    """Every results document under ``paths``, in matrix order.

    All or nothing: a file that cannot be read (truncated, not JSON, a newer
    schema, a field of the wrong type: :func:`tfcanary.results.read`), a label
    that is not an environment label, and two files for one environment are a
    :class:`~tfcanary.results.ResultsError` naming every such file, and nothing
    is reported from the others: a report or a check that silently left an
    environment out would look like a clean run.
    """
    files = list(dict.fromkeys(Path(os.path.realpath(p)) for p in results.find(list(paths))))
    docs: List[Dict[str, Any]] = []
    where: Dict[str, List[Path]] = {}
    problems: List[str] = []
    for f in files:
        try:
            doc = results.read(f)
        except results.OtherKind as exc:
            if exc.kind in OTHER_KINDS:
                continue        # a bisection or a speed file beside the results: not outcomes
            problems.append(str(exc))
            continue
        except results.ResultsError as exc:
            problems.append(str(exc))
            continue
        bad_label = names.label_problem(doc["label"])
        if bad_label:
            problems.append(f"{f}: label: expected {bad_label}")
            continue
        docs.append(doc)
        where.setdefault(doc["label"], []).append(f)
    for label, found in where.items():
        if len(found) > 1:
            problems.append(f"two results files for environment {label!r}: "
                            + " and ".join(map(str, found))
                            + " (keep one, or give the folders to separate commands)")
    if problems:
        if len(problems) > 20:
            problems = problems[:20] + [f"... and {len(problems) - 20} more"]
        raise results.ResultsError("Expected readable results files, one per environment. Received:\n  " + "\n  ".join(problems)
                                   + "\nNothing was reported: fix or move these files, or name the "
                                     "other files or folders explicitly.")
    return matrix.order(docs, key=lambda d: d["label"])


def corpus_snapshots(paths: Sequence[os.PathLike]) -> List[Optional[str]]:
    """The snapshot folder each results file under ``paths`` records for its corpus
    (``corpus.snapshots``, relative to the folder the run started in; None when
    the file records none: older results, this repo's own corpus)."""
    return [(d.get("corpus") or {}).get("snapshots") for d in read_all(paths)]


def corpus_errors(docs: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The corpus errors of ``docs``, each once, with the environments that reported it."""
    seen: Dict[tuple, Dict[str, Any]] = {}
    for d in docs:
        for e in d.get("corpus_errors", []):
            key = (e.get("file"), e.get("line"), e.get("message"))
            seen.setdefault(key, {"file": key[0], "line": key[1], "message": key[2], "envs": []})
            seen[key]["envs"].append(d["label"])
    return list(seen.values())


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
            "python": meta.get("python"), "normalizer_version": meta.get("normalizer_version"),
            "phase": o.phase, "xfail": o.xfail,
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
    return frames(read_all(paths))


def frames(docs: Sequence[Dict[str, Any]]) -> Tuple[Any, Any]:
    """(environments, outcomes) of documents already read."""
    rows: List[Dict[str, Any]] = []
    for d in docs:
        rows.extend(outcome_rows(d))
    return _frame((env_row(d) for d in docs), ENV_COLUMNS), _frame(rows, OUTCOME_COLUMNS)
