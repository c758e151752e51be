"""Results files: one JSON document per environment, written atomically.

Layout (schema 2)::

    {
      "schema": 2,
      "label": "tf2.15",
      "status": "ok" | "install-failed" | "probe-failed",
      "env": {...the matrix entry...},
      "install": {"seconds": 6.2, "reused": false, "command": [...], "message": "..."},
      "metadata": {"python": ..., "tensorflow": ..., "keras": ..., "numpy": ...,
                   "pip_freeze": [...], "devices": [...], "cpu": ..., "platform": ...,
                   "date": ..., "released": ..., "normalizer_version": 1, ...},
      "timing": {"import_s": 5.1, "probe_s": 93.0, "jobs": 2, ...},
      "runs": [{"id": 1, "date": ..., "select": [], "shuffle": null, "jobs": 2,
                "outcomes": 412}, ...],
      "cases": [...case metadata, see Case.describe()...],
      "corpus_errors": [{"file": ..., "line": ..., "message": ...}],
      "outcomes": [...Outcome.to_dict(), each with "run": <id in runs>...]
    }

``metadata`` and ``timing`` are those of the latest run.  A probe run with
``--select`` merges into the file (:func:`merge`): it replaces the outcomes of
the cases it ran, keeps every other outcome with the id of the run that
recorded it, and appends itself to ``runs``.  Schema 1 files (no ``runs``)
read as one run, id 1.

A file with a newer schema is refused with a clear message; an older one is
migrated on read.  Standard library only: the probe writes these files from
inside each TensorFlow environment.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .errors import InputError
SCHEMA_VERSION = 2
STATUSES = ("ok", "install-failed", "probe-failed")


class ResultsError(InputError):
    """A results file that cannot be read."""


# schema N -> function migrating a document from N to N+1.
def _v1_to_v2(doc: Dict[str, Any]) -> Dict[str, Any]:
    """Schema 2 adds ``runs`` and a ``run`` id per outcome: a v1 file is one run."""
    doc = dict(doc)
    outcomes = doc.get("outcomes") or []
    doc["runs"] = [{"id": 1, "date": (doc.get("metadata") or {}).get("date"), "select": [],
                    "shuffle": None, "jobs": 1, "outcomes": len(outcomes)}] if outcomes else []
    doc["outcomes"] = [{**o, "run": 1} for o in outcomes]
    doc["schema"] = 2
    return doc


_MIGRATIONS: Dict[int, Callable[[Dict[str, Any]], Dict[str, Any]]] = {1: _v1_to_v2}


def write_text_atomic(path: os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes it 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path: os.PathLike, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path``, atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(doc, indent=1) + "\n")


def write(path: os.PathLike, doc: Dict[str, Any]) -> None:
    if doc.get("status") not in STATUSES:
        raise ValueError(f"Expected status one of {STATUSES}. Received: {doc.get('status')!r}")
    doc = {"schema": SCHEMA_VERSION, **{k: v for k, v in doc.items() if k != "schema"}}
    write_json_atomic(path, doc)


def read(path: os.PathLike, kind: Optional[str] = None,
         version: int = SCHEMA_VERSION) -> Dict[str, Any]:
    """Read a results file, refusing a schema newer than ``version``.

    ``kind`` names the kind of file expected (``"speed"`` for the timer's),
    which the document must declare; outcome files declare none and are
    migrated from older schemas.
    """
    path = Path(path)
    what = f"{kind} results file" if kind else "results file"
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not a {what} (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    if not isinstance(doc, dict) or "schema" not in doc:
        raise ResultsError(f"{path}: not a {what} (no 'schema' field)")
    if kind is not None and doc.get("kind") != kind:
        raise ResultsError(f"{path}: expected a {what} (\"kind\": \"{kind}\"). "
                           f"Received: kind={doc.get('kind')!r}")
    schema = doc["schema"]
    if not isinstance(schema, int) or schema < 1:
        raise ResultsError(f"{path}: expected an integer schema >= 1. Received: schema={schema!r}")
    if schema > version:
        raise ResultsError(
            f"{path}: written by a newer tfcanary ({what} schema {schema}); this one reads "
            f"schema {version} and older. Upgrade tfcanary to read it.")
    if kind is None:
        while doc["schema"] < SCHEMA_VERSION:
            doc = _MIGRATIONS[doc["schema"]](doc)
    return doc


def find(paths: List[os.PathLike]) -> List[Path]:
    """Results files under ``paths`` (folders or files), sorted by name."""
    out: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.glob("*.json") if not q.name.startswith(".")))
        elif p.exists():
            out.append(p)
        else:
            raise ResultsError(f"{p}: no such results file or folder")
    return out


_KEY_PACKAGES = ("tensorflow", "tf-", "keras", "numpy")


# pytest and what it brings, installed into an environment when a test suite first runs there:
# not a change of the environment under test (a corpus probed before still merges).
TEST_RUNNER_PACKAGES = ("pytest", "pluggy", "iniconfig", "exceptiongroup", "tomli", "pygments", "colorama")


def package_changes(old: Dict[str, Any], freeze: List[str], limit: int = 6) -> List[str]:
    """How the packages of ``freeze`` differ from those ``old`` (a results
    document) was probed with: ``tensorflow-cpu 2.15.0 -> 2.15.1``; TensorFlow,
    Keras and NumPy first, then by name, at most ``limit``.  The test runner's
    packages (:data:`TEST_RUNNER_PACKAGES`) are left out."""
    def versions(lines: List[str]) -> Dict[str, str]:
        return dict(ln.split("==", 1) for ln in lines if "==" in ln)

    before = versions((old.get("metadata") or {}).get("pip_freeze") or [])
    after = versions(freeze)
    names = sorted((set(before) | set(after)) - set(TEST_RUNNER_PACKAGES),
                   key=lambda n: (not n.startswith(_KEY_PACKAGES), n))
    changes = [f"{name} {before.get(name, '(none)')} -> {after.get(name, '(none)')}"
               for name in names if before.get(name) != after.get(name)]
    if len(changes) > limit:
        changes = changes[:limit] + [f"... {len(changes) - limit} more"]
    return changes


def merge(old: Dict[str, Any], new: Dict[str, Any], replaced: List[str],
          order: List[List[str]] = ()) -> Dict[str, Any]:
    """``new`` (a ``--select`` run of the cases ``replaced``) merged into ``old``.

    Every outcome of a case in ``replaced`` comes from ``new``; every other
    outcome of ``old`` is kept as it was, with the ``run`` id that recorded it.
    ``new``'s single run is appended to ``old``'s ``runs`` under the next id.
    Outcomes follow ``order`` (the full plan's ``[case, variant, mode]`` list);
    kept ones it does not name (cases no longer in the corpus) come last.
    ``status``, ``metadata``, ``timing`` and ``corpus_errors`` are ``new``'s:
    the latest run's.  Callers make sure both ran with the same packages
    (:func:`package_changes`), so one file never mixes versions silently.
    """
    drop = set(replaced)
    runs = [dict(r) for r in old.get("runs") or []]
    run = dict(new["runs"][0])
    run["id"] = max([r["id"] for r in runs], default=0) + 1
    runs.append(run)
    fresh = [{**o, "run": run["id"]} for o in new["outcomes"]]
    outcomes = [o for o in old.get("outcomes") or [] if o["case"] not in drop] + fresh
    rank = {tuple(k): i for i, k in enumerate(order)}
    outcomes.sort(key=lambda o: rank.get((o["case"], o["variant"], o["mode"]), len(rank)))
    case_rank = {}
    for c, _, _ in order:
        case_rank.setdefault(c, len(case_rank))
    cases = [c for c in old.get("cases") or [] if c["id"] not in drop] + list(new.get("cases") or [])
    cases.sort(key=lambda c: case_rank.get(c["id"], len(case_rank)))
    return {**new, "runs": runs, "outcomes": outcomes, "cases": cases}
