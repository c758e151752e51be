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

import dataclasses
import datetime as _dt
import json
import math
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import names
from .errors import InputError
from .outcome import Outcome, Status
SCHEMA_VERSION = 2
STATUSES = ("ok", "install-failed", "probe-failed")
_OUTCOME_STATUSES = tuple(s.value for s in Status)
_SURROGATE_RE = re.compile(r"\\[uU][dD][89a-fA-F]")
_OUTCOME_FIELDS = {f.name for f in dataclasses.fields(Outcome)}


class ResultsError(InputError):
    """A results file that cannot be read."""


class OtherKind(ResultsError):
    """A file of another kind (``"kind": "speed"``, ``"bisect"``) where outcomes were expected."""

    def __init__(self, message: str, kind: Any) -> None:
        super().__init__(message)
        self.kind = kind


# schema N -> function migrating a document from N to N+1.
def _v1_to_v2(doc: Dict[str, Any]) -> Dict[str, Any]:
    """Schema 2 adds ``runs`` and a ``run`` id per outcome: a v1 file is one run."""
    doc = dict(doc)
    outcomes = doc.get("outcomes") or []
    meta = doc.get("metadata")
    date = meta.get("date") if isinstance(meta, dict) else None
    if isinstance(outcomes, list):   # anything else is refused by the check that follows
        doc["runs"] = [{"id": 1, "date": date, "select": [], "shuffle": None, "jobs": 1,
                        "outcomes": len(outcomes)}] if outcomes else []
        doc["outcomes"] = [{**o, "run": 1} if isinstance(o, dict) else o for o in outcomes]
    doc["schema"] = 2
    return doc


_MIGRATIONS: Dict[int, Callable[[Dict[str, Any]], Dict[str, Any]]] = {1: _v1_to_v2}


def write_text_atomic(path: os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half.

    A path that cannot be written (a file where its folder should be, no
    permission, a full disk) is an :class:`InputError` naming it."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:   # a file where the folder should be, no permission, a full disk
        raise InputError(f"{path}: cannot be written ({exc.strerror or exc}). Nothing was written.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes it 0600; results are for everyone to read
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"{path}: cannot be written ({exc.strerror or exc}). It is left as it "
                             "was.") from None
        raise


def write_json_atomic(path: os.PathLike, doc: Any) -> None:
    """Write ``doc`` as JSON to ``path``, atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(doc, indent=1) + "\n")


def file_in(folder: os.PathLike, name: str) -> Path:
    """``folder/name`` for a file tfcanary writes under a name made from data (a label, an
    endpoint): ``name`` must be one plain file name, so the write stays in ``folder``."""
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name
            or "\0" in name or not name.isprintable()):
        raise InputError(f"Expected a plain file name to write in {folder}. Received: {name!r}; "
                         "nothing was written.")
    return Path(folder) / name


def write(path: os.PathLike, doc: Dict[str, Any]) -> None:
    if doc.get("status") not in STATUSES:
        raise ValueError(f"Expected status one of {STATUSES}. Received: {doc.get('status')!r}")
    doc = {"schema": SCHEMA_VERSION, **{k: v for k, v in doc.items() if k != "schema"}}
    write_json_atomic(path, doc)


def read_text(path: os.PathLike, what: str) -> str:
    """The text of the regular file ``path``; a :class:`ResultsError` naming it and what is
    wrong otherwise (missing, a folder, a FIFO or other special file, a link loop, not UTF-8).

    A FIFO is refused without being read from: opening one waits for a writer."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError:
        raise ResultsError(f"{path}: expected a {what}. Received: a folder") from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise ResultsError(f"{path}: expected a {what}. Received: a folder")
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise ResultsError(f"{path}: expected a {what}, a regular file. Received: {kind}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{path}: expected a {what} in UTF-8. Received: a byte that is not UTF-8 "
                           f"at offset {exc.start}") from None


def load_json(path: os.PathLike, what: str) -> Any:
    """The JSON document in ``path`` (see :func:`read_text`); a :class:`ResultsError` when it is
    not JSON."""
    text = read_text(path, what)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not a {what} (invalid JSON at line {exc.lineno}: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:   # an integer too long, nesting too deep
        raise ResultsError(f"{path}: not a {what} ({type(exc).__name__}: {str(exc)[:200]})") from None
    if _SURROGATE_RE.search(text):   # "\ud800" alone decodes to a str that no file can hold
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ResultsError(f"{path}: not a {what} (a \\u escape of a lone surrogate: not text)") from None
    return doc


def read(path: os.PathLike, kind: Optional[str] = None,
         version: int = SCHEMA_VERSION) -> Dict[str, Any]:
    """Read a results file, refusing a schema newer than ``version``.

    ``kind`` names the kind of file expected (``"speed"`` for the timer's),
    which the document must declare; outcome files declare none, are migrated
    from older schemas and checked (:func:`problems`): a file that breaks the
    layout is a :class:`ResultsError` naming it and what is wrong, and one of
    another kind an :class:`OtherKind`.
    """
    path = Path(path)
    what = f"{kind} results file" if kind else "results file"
    doc = load_json(path, what)
    if not isinstance(doc, dict) or "schema" not in doc:
        raise ResultsError(f"{path}: not a {what} (no 'schema' field)")
    if kind is None and "kind" in doc:
        raise OtherKind(f"{path}: expected a results file of outcomes. Received: a file of kind "
                        f"{doc['kind']!r}", doc["kind"])
    if kind is not None and doc.get("kind") != kind:
        raise ResultsError(f"{path}: expected a {what} (\"kind\": \"{kind}\"). "
                           f"Received: kind={doc.get('kind')!r}")
    schema = doc["schema"]
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise ResultsError(f"{path}: expected an integer schema >= 1. Received: schema={schema!r}")
    if schema > version:
        raise ResultsError(
            f"{path}: written by a newer tfcanary ({what} schema {schema}); this one reads "
            f"schema {version} and older. Upgrade tfcanary to read it.")
    if kind is None:
        while doc["schema"] < SCHEMA_VERSION:
            doc = _MIGRATIONS[doc["schema"]](doc)
        found = problems(doc)
        if found:
            raise ResultsError(f"{path}: not a usable results file: " + describe_problems(found))
    return doc


def describe_problems(found: List[str], limit: int = 5) -> str:
    """The first ``limit`` problems, joined, and how many more there are."""
    more = f" (and {len(found) - limit} more)" if len(found) > limit else ""
    return "; ".join(found[:limit]) + more + "."


# --- what a results file must hold ------------------------------------------------------

def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _iso(v: Any) -> bool:
    """An ISO date and time that has a UTC time (reports and ``--max-age`` compare in UTC)."""
    try:
        d = _dt.datetime.fromisoformat(v)
        (d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)).astimezone(_dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


_OUTCOME_TEXT = ("exc_type", "message", "normalized", "fingerprint", "frame", "reason")
_META_TEXT = ("python", "tensorflow", "keras", "numpy", "platform", "released")
_CASE_TEXT = ("family", "kind", "source", "fidelity", "doc", "file")


def objects(value: Any, where: str, out: List[str]) -> List[Tuple[str, Dict[str, Any]]]:
    """``(where[i], item)`` for each object of the list ``value`` (None: no items); a
    ``value`` that is not a list, or an item that is not an object, is a problem added
    to ``out``."""
    if value is None:
        return []
    if not isinstance(value, list):
        out.append(f"{where}: expected a list. Received: {names.shown(value)}")
        return []
    found = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            found.append((f"{where}[{i}]", item))
        else:
            out.append(f"{where}[{i}]: expected an object. Received: {names.shown(item)}")
    return found


def problems(doc: Dict[str, Any]) -> List[str]:
    """What is wrong with an outcomes document (schema 2), each as ``where: expected X.
    Received: Y``; empty when it is fine.

    What the reports read is checked: names by the rules of :mod:`tfcanary.names`
    (labels are checked by the host, which knows the matrix), statuses, the types
    of every field shown or computed with, ISO dates, https links, and one outcome
    per (case, variant, mode).  Fields this tfcanary does not read are left alone.
    """
    out: List[str] = []

    def expect(ok: bool, where: str, expected: str, value: Any) -> bool:
        if not ok:
            out.append(f"{where}: expected {expected}. Received: {names.shown(value)}")
        return ok

    def rule(problem: Optional[str], where: str) -> None:
        if problem:
            out.append(f"{where}: expected {problem}")

    def section(key: str) -> Dict[str, Any]:
        value = doc.get(key)
        if value is None:
            return {}
        return value if expect(isinstance(value, dict), key, "an object", value) else {}

    label = doc.get("label")
    expect(isinstance(label, str) and bool(label), "label", "the environment's label", label)
    expect(doc.get("status") in STATUSES, "status", f"one of {', '.join(STATUSES)}", doc.get("status"))
    expect(isinstance(doc.get("message"), (str, type(None))), "message", "text", doc.get("message"))
    for key in ("env", "timing"):
        section(key)
    meta = section("metadata")
    for k in _META_TEXT:
        expect(isinstance(meta.get(k), (str, type(None))), f"metadata.{k}", "text", meta.get(k))
    if meta.get("date") is not None:
        expect(_iso(meta["date"]), "metadata.date", "an ISO date like 2026-01-01T03:17:00+00:00",
               meta["date"])
    if meta.get("pip_freeze") is not None:
        expect(_text_list(meta["pip_freeze"]), "metadata.pip_freeze", "a list of text", meta["pip_freeze"])
    if meta.get("devices") is not None:
        expect(isinstance(meta["devices"], list) and all(isinstance(d, dict) for d in meta["devices"]),
               "metadata.devices", "a list of objects", meta["devices"])
    inst = section("install")
    expect(isinstance(inst.get("message"), (str, type(None))), "install.message", "text", inst.get("message"))
    if inst.get("command") is not None:
        expect(isinstance(inst["command"], list), "install.command", "a list", inst["command"])
    timing = section("timing")
    for k in ("import_s", "probe_s"):
        expect(timing.get(k) is None or _number(timing[k]), f"timing.{k}", "a number", timing.get(k))
    corpus = section("corpus")
    if "paths" in corpus:
        expect(_text_list(corpus["paths"]), "corpus.paths", "a list of folders", corpus["paths"])
    if "with" in corpus:
        expect(_text_list(corpus["with"]), "corpus.with", "a list of text", corpus["with"])
    expect(isinstance(corpus.get("snapshots"), (str, type(None))), "corpus.snapshots", "a folder",
           corpus.get("snapshots"))
    for where, r in objects(doc.get("runs"), "runs", out):
        expect(isinstance(r.get("id"), int) and not isinstance(r.get("id"), bool), f"{where}.id",
               "a whole number", r.get("id"))
    for where, c in objects(doc.get("cases"), "cases", out):
        rule(names.item_id_problem(c.get("id")), f"{where}.id")
        for k in _CASE_TEXT:
            expect(isinstance(c.get(k), (str, type(None))), f"{where}.{k}", "text", c.get(k))
        rule(names.url_problem(c.get("url")), f"{where}.url")
        expect(c.get("line") is None or isinstance(c["line"], int), f"{where}.line", "a line number", c.get("line"))
        for k in ("tags", "variants"):
            expect(c.get(k) is None or _text_list(c[k]), f"{where}.{k}", "a list of text", c.get(k))
        claim = c.get("claim")
        if claim is not None and expect(isinstance(claim, dict), f"{where}.claim", "an object or null", claim):
            for k in ("error", "message", "where", "versions"):
                expect(isinstance(claim.get(k), (str, type(None))), f"{where}.claim.{k}", "text", claim.get(k))
    for where, e in objects(doc.get("corpus_errors"), "corpus_errors", out):
        for k in ("file", "message"):
            expect(isinstance(e.get(k), (str, type(None))), f"{where}.{k}", "text", e.get(k))
        expect(e.get("line") is None or isinstance(e["line"], int), f"{where}.line", "a line number",
               e.get("line"))
    seen: Dict[tuple, str] = {}
    for where, o in objects(doc.get("outcomes"), "outcomes", out):
        unknown = sorted(set(o) - _OUTCOME_FIELDS)
        expect(not unknown, where, f"only the fields {', '.join(sorted(_OUTCOME_FIELDS))}", unknown)
        rule(names.item_id_problem(o.get("case")), f"{where}.case")
        rule(names.word_problem(o.get("variant"), "variant"), f"{where}.variant")
        rule(names.word_problem(o.get("mode"), "mode"), f"{where}.mode")
        expect(o.get("status") in _OUTCOME_STATUSES, f"{where}.status",
               f"one of {', '.join(_OUTCOME_STATUSES)}", o.get("status"))
        for k in _OUTCOME_TEXT:
            expect(isinstance(o.get(k), (str, type(None))), f"{where}.{k}", "text", o.get(k))
        expect(o.get("duration_s") is None or _number(o["duration_s"]), f"{where}.duration_s",
               "a number of seconds", o.get("duration_s"))
        expect(o.get("leaked") is None or _text_list(o["leaked"]), f"{where}.leaked", "a list of text",
               o.get("leaked"))
        expect(o.get("run") is None or (isinstance(o["run"], int) and not isinstance(o["run"], bool)),
               f"{where}.run", "a run id", o.get("run"))
        key = (o.get("case"), o.get("variant"), o.get("mode"))
        if all(isinstance(k, str) for k in key):
            if key in seen:
                out.append(f"{where}: expected one outcome per (case, variant, mode). Received: "
                           f"{'/'.join(key)!r} again (also {seen[key]})")
            seen.setdefault(key, where)
    return out


def find(paths: List[os.PathLike]) -> List[Path]:
    """Results files under ``paths`` (folders or files), sorted by name.

    In a folder: every ``*.json`` but hidden files and folders so named; a
    special file or a broken link is listed, for :func:`read` to refuse by name."""
    out: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.glob("*.json") if not q.name.startswith(".") and not q.is_dir()))
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
