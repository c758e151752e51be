"""The regression check: a run against the committed snapshots of expected outcomes.

    python -m tfcanary check --results results --snapshots snapshots \\
        --junit reports/check.xml --markdown "$GITHUB_STEP_SUMMARY"
    python -m tfcanary check --update      # after reviewing the changes: rewrite the snapshots

``snapshots/<env>.json`` holds, per (case, variant, mode), the status, the
short exception class and the fingerprint: not the raw message, which carries
run-to-run noise.  Exit status: 0 when every compared environment matches its
snapshot, 1 on any transition (including an environment that failed to
install, one with no snapshot yet, and cases added to or removed from the
corpus since the snapshot), 2 on a usage error (printed by the CLI).

An environment with a snapshot but no results file is reported as not run, not
as a failure: the nightly fan-out may run a subset.  Transitions are classified
by :func:`tfcanary.diff.transitions`, with the snapshot as A and the run as B.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import diff, fingerprint, matrix, names, results, store
from ..errors import InputError, UserError
from ..outcome import Status
from ..results import write_text_atomic
from . import toolkit

SNAPSHOT_SCHEMA = 1
STATUSES = tuple(s.value for s in Status)
# GitHub drops a step summary over 1 MiB whole; keep headroom for what CI appends.
MARKDOWN_LIMIT = 1024 * 1024 - 32 * 1024


@dataclass
class EnvCheck:
    """How one environment fared: ``state`` is compared, no-snapshot, env-failed or not-run."""

    env: str
    state: str
    note: str = ""
    versions: Dict[str, Any] = field(default_factory=dict)
    transitions: Any = None          # diff.transitions(snapshot, run), for compared envs
    keys: List[tuple] = field(default_factory=list)   # snapshot keys, for env-failed/not-run

    @property
    def failed(self) -> bool:
        if self.state == "compared":
            return bool((self.transitions["change"] != "unchanged").any())
        return self.state in ("no-snapshot", "env-failed")


# --- snapshots ----------------------------------------------------------------------------

def snapshot_doc(env: Dict[str, Any], outcomes) -> Dict[str, Any]:
    """The snapshot of one environment's outcomes (one row of store.load_environments + its outcomes)."""
    entries = {}
    for r in toolkit.records(outcomes.sort_values(diff.KEY)):
        e: Dict[str, Any] = {"status": r["status"]}
        if r["status"] == "error":
            e["exc_type"] = r["short_type"]
            e["fingerprint"] = r["fingerprint"]
        entries["/".join((r["case"], r["variant"], r["mode"]))] = e
    return {
        "schema": SNAPSHOT_SCHEMA, "env": env["env"],
        "normalizer_version": fingerprint.NORMALIZER_VERSION,
        "from": {k: toolkit.clean(env.get(k)) for k in ("tensorflow", "keras", "python", "date")},
        "outcomes": entries,
    }


def dumps_snapshot(doc: Dict[str, Any]) -> str:
    """JSON with one outcome per line, sorted: a changed outcome is a one-line diff in review."""
    head = {k: v for k, v in doc.items() if k != "outcomes"}
    lines = [json.dumps(head, indent=1)[:-2] + ",", ' "outcomes": {']
    items = sorted(doc["outcomes"].items())
    for i, (key, value) in enumerate(items):
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, sort_keys=True)}"
                     + ("," if i < len(items) - 1 else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def read_snapshot(path: os.PathLike) -> Dict[str, Any]:
    """A snapshot file, checked (:func:`snapshot_problems`); an :class:`InputError` naming it
    and what is wrong otherwise."""
    p = Path(path)
    doc = results.load_json(p, "snapshot")
    if not isinstance(doc, dict) or doc.get("schema") != SNAPSHOT_SCHEMA or "outcomes" not in doc:
        raise InputError(f"Expected a snapshot with schema {SNAPSHOT_SCHEMA}. Received: {p} with "
                         f"schema {doc.get('schema') if isinstance(doc, dict) else None!r}. "
                         "Regenerate it with `check --update`.")
    found = snapshot_problems(doc)
    if found:
        raise InputError(f"{p}: not a usable snapshot: {results.describe_problems(found)} "
                         "Regenerate it with `check --update`, or fix it by hand.")
    return doc


def split_key(key: str) -> Tuple[str, str, str]:
    """``case/variant/mode`` -> its three parts; the case (a pytest node id) may hold ``/``."""
    case, variant, mode = key.rsplit("/", 2)
    return case, variant, mode


def snapshot_problems(doc: Dict[str, Any]) -> List[str]:
    """What is wrong with a snapshot document, each as ``where: expected X. Received: Y``."""
    out: List[str] = []
    if doc.get("env") is not None and names.label_problem(doc["env"]):
        out.append(f"env: expected {names.label_problem(doc['env'])}")
    nv = doc.get("normalizer_version")
    if nv is not None and (not isinstance(nv, int) or isinstance(nv, bool)):
        out.append(f"normalizer_version: expected a whole number. Received: {nv!r}")
    if not isinstance(doc.get("from", {}), dict):
        out.append(f"from: expected an object. Received: {names.shown(doc.get('from'))}")
    outcomes = doc["outcomes"]
    if not isinstance(outcomes, dict):
        return out + [f"outcomes: expected an object keyed by case/variant/mode. "
                      f"Received: {type(outcomes).__name__}"]
    for key, e in outcomes.items():
        where = f"outcomes[{names.shown(key)}]"
        if key.count("/") < 2:
            out.append(f"{where}: expected a key case/variant/mode")
            continue
        case, variant, mode = split_key(key)
        for problem in (names.item_id_problem(case), names.word_problem(variant, "variant"),
                        names.word_problem(mode, "mode")):
            if problem:
                out.append(f"{where}: expected {problem}")
        if not isinstance(e, dict):
            out.append(f"{where}: expected an object. Received: {names.shown(e)}")
            continue
        if e.get("status") not in STATUSES:
            out.append(f"{where}.status: expected one of {', '.join(STATUSES)}. "
                       f"Received: {names.shown(e.get('status'))}")
        for k in ("exc_type", "fingerprint"):
            if not isinstance(e.get(k), (str, type(None))):
                out.append(f"{where}.{k}: expected text. Received: {names.shown(e.get(k))}")
    return out


def snapshot_frame(doc: Dict[str, Any]):
    """A snapshot as an outcome frame (case, variant, mode, status, short_type, fingerprint)."""
    import pandas as pd

    rows = []
    for key, e in doc["outcomes"].items():
        case, variant, mode = split_key(key)
        rows.append({"case": case, "variant": variant, "mode": mode, "status": e["status"],
                     "short_type": e.get("exc_type"), "fingerprint": e.get("fingerprint")})
    return pd.DataFrame(rows, columns=["case", "variant", "mode", "status", "short_type", "fingerprint"])


def update(res: "toolkit.Results", snapshots: os.PathLike) -> List[Path]:
    """Rewrite ``snapshots/<env>.json`` for every environment of ``res`` whose probe completed.

    A snapshot that would differ only in the probe date is left as it is, so
    that an update shows in ``git diff`` only what changed.  Returns the files
    written.
    """
    written = []
    for env in toolkit.records(res.envs):
        if env["status"] != "ok":
            continue
        observed = toolkit.observed(res.outcomes)
        doc = snapshot_doc(env, observed[observed["env"] == env["env"]])
        path = results.file_in(snapshots, f"{env['env']}.json")
        if _same_but_date(path, doc):
            continue
        write_text_atomic(path, dumps_snapshot(doc))
        written.append(path)
    return written


def _same_but_date(path: Path, doc: Dict[str, Any]) -> bool:
    """True when the snapshot at ``path`` says what ``doc`` says, the date aside."""
    try:
        old = results.load_json(path, "snapshot")
    except InputError:
        return False

    def undated(d: Any) -> Any:
        if not isinstance(d, dict):
            return d
        frm = d.get("from")
        if isinstance(frm, dict):   # a hand-edited snapshot may hold anything here: it is replaced
            frm = {k: v for k, v in frm.items() if k != "date"}
        return {**d, "from": frm}

    return undated(old) == undated(json.loads(dumps_snapshot(doc)))


def default_snapshots(results: Sequence[os.PathLike], for_writing: bool = False) -> Path:
    """Where the snapshots of these results live: the folder their corpus records.

    ``tfcanary run`` and ``nox -- --cases DIR`` record ``<DIR>/snapshots``
    (relative to the folder they ran in); this repo's corpus records
    ``snapshots``, as do results that record nothing.  Results from corpora
    with different snapshot folders need ``--snapshots``.  The recorded folder
    is data from a file: ``for_writing`` (``--update``) accepts it only inside
    the working directory; elsewhere, the folder to write is named with
    ``--snapshots``.
    """
    recorded = set(store.corpus_snapshots(results)) or {None}
    if len(recorded) > 1:
        raise UserError("Expected results from one corpus. Received: results whose corpora keep "
                        f"snapshots in {', '.join(sorted(str(r or 'snapshots') for r in recorded))}. "
                        "Name one with --snapshots DIR, or check each results folder apart.")
    path = Path(recorded.pop() or "snapshots")
    if for_writing:
        cwd = os.path.realpath(os.getcwd())
        real = os.path.realpath(path)
        read = {os.path.realpath(r if Path(r).is_dir() else Path(r).parent) for r in results}
        if not (real == cwd or real.startswith(cwd.rstrip(os.sep) + os.sep)) or real in read:
            where = "a folder of the results being read" if real in read else \
                f"outside the working directory ({cwd})"
            raise InputError(
                f"Expected the snapshot folder the results record (corpus.snapshots) to lie in the "
                f"working directory, apart from the results, to update it. Received: {str(path)!r}, "
                f"{where}. Nothing was written: name the folder to write with --snapshots DIR.")
    return path


# --- comparing ----------------------------------------------------------------------------

def compare(res: "toolkit.Results", snapshots: os.PathLike) -> List[EnvCheck]:
    """Each environment with results or a snapshot, compared where both exist."""
    snap_dir = Path(snapshots)
    snaps = {p.stem: p for p in sorted(snap_dir.glob("*.json")) if not p.name.startswith(".")} \
        if snap_dir.is_dir() else {}
    bad = [f"{p}: the file name: expected {names.label_problem(stem)}"
           for stem, p in snaps.items() if names.label_problem(stem)]
    if bad:
        raise InputError("Expected snapshot files named <environment label>.json. Received:\n  "
                         + "\n  ".join(bad[:20]) + "\nMove these files out of the snapshot folder.")
    envs = {e["env"]: e for e in toolkit.records(res.envs)}
    checks = []
    for label in matrix.order(sorted(set(envs) | set(snaps))):
        env = envs.get(label)
        versions = {k: env.get(k) for k in ("tensorflow", "keras", "python")} if env else {}
        if label not in snaps:
            checks.append(EnvCheck(label, "no-snapshot", versions=versions,
                                   note="no snapshot: review the run, then `check --update`"))
            continue
        doc = read_snapshot(snaps[label])
        expected = snapshot_frame(doc)
        keys = [tuple(k) for k in expected[diff.KEY].itertuples(index=False)]
        if env is None:
            checks.append(EnvCheck(label, "not-run", note="no results file", keys=keys))
            continue
        if env["status"] != "ok":
            checks.append(EnvCheck(label, "env-failed", versions=versions, keys=keys,
                                   note=f"{env['status']}: {(env.get('message') or '').strip()[-300:]}"))
            continue
        same_normalizer = doc.get("normalizer_version") == fingerprint.NORMALIZER_VERSION
        observed = toolkit.observed(res.outcomes)
        t = diff.transitions(expected, observed[observed["env"] == label],
                             compare_fingerprints=same_normalizer)
        note = "" if same_normalizer else (
            f"snapshot written by normalizer {doc.get('normalizer_version')}, this is "
            f"{fingerprint.NORMALIZER_VERSION}: compared status and class only; `check --update`")
        checks.append(EnvCheck(label, "compared", versions=versions, transitions=t, note=note))
    return checks


def _outcome(prefix: str, row: Dict[str, Any]) -> str:
    text = diff.describe(prefix, row)
    fp = row.get(f"{prefix}_fingerprint")
    return f"{text} [{fp}]" if row.get(f"{prefix}_status") == "error" and fp else text


# --- outputs ------------------------------------------------------------------------------

def _xml_text(s: str) -> str:
    # XML 1.0 forbids most control characters, which exception messages can carry.
    return "".join(ch for ch in s if ch in "\t\n\r" or ord(ch) >= 0x20)


def junit_xml(checks: Sequence[EnvCheck]) -> str:
    """JUnit XML: a testsuite per environment, a testcase per (environment, case, variant, mode)."""
    root = ET.Element("testsuites", name="tfcanary check")
    total = {"tests": 0, "failures": 0, "skipped": 0}
    for c in checks:
        suite = ET.SubElement(root, "testsuite", name=c.env)
        props = ET.SubElement(suite, "properties")
        for k, v in list(c.versions.items()) + [("state", c.state)]:
            ET.SubElement(props, "property", name=k, value=_xml_text(str(v)))
        n = {"tests": 0, "failures": 0, "skipped": 0}

        def case(name: str) -> ET.Element:
            n["tests"] += 1
            return ET.SubElement(suite, "testcase", classname=f"tfcanary.{c.env}", name=name)

        if c.state == "compared":
            for r in toolkit.records(c.transitions):
                tc = case("/".join((r["case"], r["variant"], r["mode"])))
                if r["change"] != "unchanged":
                    n["failures"] += 1
                    old, new = _outcome("a", r), _outcome("b", r)
                    f = ET.SubElement(tc, "failure", type=r["change"],
                                      message=_xml_text(f"{r['change']}: expected {old}, got {new}"))
                    f.text = _xml_text(f"{c.env} {r['case']} {r['variant']} {r['mode']}\n"
                                       f"expected (snapshot): {old}\nnow: {new}\n"
                                       f"risk: {r['risk']} ({diff.CHANGES[r['change']][1]})")
        else:
            if c.state in ("no-snapshot", "env-failed"):
                n["failures"] += 1
                ET.SubElement(case("(environment)"), "failure", type=c.state,
                              message=_xml_text(f"{c.env}: {c.state}: {c.note}"))
            for key in c.keys:
                n["skipped"] += 1
                ET.SubElement(case("/".join(key)), "skipped", message=_xml_text(f"{c.state}: {c.note}"))
        for k, v in n.items():
            suite.set(k, str(v))
            total[k] += v
    for k, v in total.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _all_transitions(checks: Sequence[EnvCheck]):
    import pandas as pd

    frames = [c.transitions.assign(env=c.env) for c in checks if c.state == "compared"]
    if not frames:
        return pd.DataFrame(columns=["env", "change", "risk"] + diff.KEY)
    t = pd.concat(frames, ignore_index=True)
    return t[t["change"] != "unchanged"]


def _shown(folder: Optional[os.PathLike]) -> str:
    """A snapshot folder as a message names it: relative to the working directory when inside it."""
    if folder is None:
        return "snapshots/"
    try:
        rel = os.path.relpath(Path(folder).resolve(), Path.cwd())
    except ValueError:       # another drive
        rel = str(folder)
    return (str(folder) if rel.startswith("..") else rel).rstrip("/") + "/"


def markdown(checks: Sequence[EnvCheck], limit: int = MARKDOWN_LIMIT,
             snapshots: Optional[os.PathLike] = None) -> str:
    """The CI step summary, at most ``limit`` bytes: rows past it are counted, not listed."""
    import pandas as pd

    t = _all_transitions(checks)
    risk_rank = {r: i for i, r in enumerate(diff.RISKS)}
    t = t.assign(_r=t["risk"].map(risk_rank)).sort_values(["_r", "env"] + diff.KEY, kind="stable")
    counts = pd.crosstab(t["env"], t["change"]) if len(t) else None
    envs = []
    for c in checks:
        row = {"env": c.env, "state": c.state, "note": c.note,
               "tensorflow": c.versions.get("tensorflow"), "keras": c.versions.get("keras"),
               "n": 0 if c.transitions is None else len(c.transitions),
               "changed": 0, "by_change": ""}
        if counts is not None and c.env in counts.index:
            nz = counts.loc[c.env]
            nz = nz[nz > 0]
            row["changed"] = int(nz.sum())
            row["by_change"] = ", ".join(f"{k} {int(v)}" for k, v in nz.items())
        if c.state != "compared":   # nothing was compared: no count to show, not a zero
            row["n"] = row["changed"] = None
        envs.append(row)
    template = toolkit.template("check.md")
    ctx = {"envs": envs, "failed": any(c.failed for c in checks), "n_transitions": len(t),
           "snapshots": _shown(snapshots),
           "not_checked": [e for e in envs if e["state"] in ("no-snapshot", "env-failed")],
           "compared": [e for e in envs if e["state"] == "compared"],
           "n_envs_changed": sum(1 for e in envs if e["changed"])}
    lines = [f"| {toolkit.md_cell(r['env'])} | {toolkit.md_code(r['case'])} | {r['variant']} | "
             f"{r['mode']} | {r['change']} | {r['risk']} | {toolkit.md_cell(_outcome('a', r))} | "
             f"{toolkit.md_cell(_outcome('b', r))} |" for r in toolkit.records(t)]
    overhead = len(template.render(rows=[], omitted=len(lines), **ctx).encode("utf-8"))
    budget, kept = limit - overhead - 64, []
    for line in lines:
        size = len(line.encode("utf-8")) + 1
        if size > budget:
            break
        budget -= size
        kept.append(line)
    text = template.render(rows=kept, omitted=len(lines) - len(kept), **ctx)
    if len(text.encode("utf-8")) > limit:   # cannot happen unless the header alone is too big
        raise AssertionError(f"check summary is {len(text.encode('utf-8'))} bytes, over {limit}")
    return text


def run(results: Sequence[os.PathLike], snapshots: Optional[os.PathLike] = None,
        update_snapshots: bool = False, junit: Optional[os.PathLike] = None,
        markdown_out: Optional[os.PathLike] = None, echo: Callable[[str], None] = print) -> int:
    """The check as the CLI runs it; returns the exit status (0 or 1; a UserError means 2).

    ``snapshots`` defaults to the folder the results' corpus records
    (:func:`default_snapshots`).
    """
    res = toolkit.load(results)
    snap_dir = Path(snapshots) if snapshots is not None else default_snapshots(results, update_snapshots)
    if update_snapshots:
        written = update(res, snap_dir)
        for p in written:
            echo(f"wrote {p}")
        unchanged = sorted(set(res.envs[res.envs["status"] == "ok"]["env"])
                           - {p.stem for p in written})
        if unchanged:
            echo(f"unchanged (left as they are): {', '.join(unchanged)} in {snap_dir}")
        skipped = res.envs[res.envs["status"] != "ok"]["env"].tolist()
        if skipped:
            echo(f"not snapshotted (probe did not complete): {', '.join(skipped)}")
        return 0
    if not snap_dir.is_dir() or not any(snap_dir.glob("*.json")):
        raise UserError(f"Expected a folder of snapshots (<env>.json). Received: {snap_dir} "
                        f"({'empty' if snap_dir.is_dir() else 'not found'}). Create them from a "
                        f"reviewed run with `python -m tfcanary check --update`.")
    checks = compare(res, snap_dir)   # load() refused an empty run: some env is compared or failing
    if junit:
        write_text_atomic(junit, junit_xml(checks))
    if markdown_out:
        write_text_atomic(markdown_out, markdown(checks, snapshots=snap_dir))
    for c in checks:
        if c.state == "compared":
            n = int((c.transitions["change"] != "unchanged").sum())
            echo(f"{c.env:<16} {'CHANGED' if n else 'ok':<8} {n} of {len(c.transitions)} outcomes"
                 + (f"  ({c.note})" if c.note else ""))
        else:
            echo(f"{c.env:<16} {c.state:<8} {c.note}")
    t = _all_transitions(checks)
    for r in toolkit.records(t.head(40)):
        echo(f"  {r['env']} {r['case']}/{r['variant']}/{r['mode']}: {r['change']}: "
             f"{_outcome('a', r)} -> {_outcome('b', r)}")
    if len(t) > 40:
        echo(f"  ... and {len(t) - 40} more (see --markdown / --junit)")
    failed = any(c.failed for c in checks)
    if failed:
        echo("If these changes are expected, rewrite the snapshots with `tfcanary check --update` "
             f"(in tfcanary's repository: `nox -s check -- --update`) and commit {_shown(snap_dir)}.")
    return 1 if failed else 0
