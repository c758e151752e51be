"""Results files: one JSON document per environment, written atomically.

Layout (schema 1)::

    {
      "schema": 1,
      "label": "tf2.15",
      "status": "ok" | "install-failed" | "probe-failed",
      "env": {...the matrix entry...},
      "install": {"seconds": 6.2, "reused": false, "command": [...], "message": "..."},
      "metadata": {"python": ..., "tensorflow": ..., "keras": ..., "numpy": ...,
                   "pip_freeze": [...], "devices": [...], "cpu": ..., "platform": ...,
                   "date": ..., "released": ..., "normalizer_version": 1, ...},
      "timing": {"import_s": 5.1, "probe_s": 93.0},
      "cases": [...case metadata, see Case.describe()...],
      "corpus_errors": [{"file": ..., "line": ..., "message": ...}],
      "outcomes": [...Outcome.to_dict()...]
    }

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

SCHEMA_VERSION = 1
STATUSES = ("ok", "install-failed", "probe-failed")


class ResultsError(Exception):
    """A results file that cannot be read."""


# schema N -> function migrating a document from N to N+1.
_MIGRATIONS: Dict[int, Callable[[Dict[str, Any]], Dict[str, Any]]] = {}


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
