"""``tfcanary bisect``: the first release, or nightly build, at which each transition appeared.

    tfcanary bisect tf2.16 tf2.21 --results results          # every transition between the two
    tfcanary bisect tf2.21 nightly --results results --select 'keras-tensor-*'
    tfcanary bisect tensorflow-cpu==2.16.2,keras==3.4.1 tensorflow-cpu==2.16.2,keras==3.6.0 \\
        --case sequential-model-output --variant broken --mode script

The pipeline (:func:`run`): endpoints (exact versions; a label's results file
says which: :func:`tfcanary.bisect.path.endpoint`) -> the keys to bisect
(:func:`select_keys`) -> path (every version between them on the package
index, one package changing per step: :func:`tfcanary.bisect.path.build_path`)
-> :func:`tfcanary.bisect.search.search` (probe both ends twice, then halve
every open interval, all open transitions probed together in each environment
of :class:`tfcanary.bisect.workspace.Workspace`) -> :func:`write`
(``<results>/bisect/<A>--<B>.json`` and ``.md``).  :func:`first_changed` reads
the JSON files back for the reports.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .. import diff, names, results
from .._engine.suite_worker import matches
from ..envs import index as _index
from ..errors import UserError
from . import path as _path
from ..matrix import DEFAULT_PYTHON
from .search import Key, Obs, first_changed_text, line, search
from .workspace import PointRun, Workspace

SCHEMA = 1
KIND = "bisect"


def outcome_at(key: Key, outcomes: Dict[Key, Dict[str, object]]) -> Optional[Dict[str, object]]:
    """The outcome of ``key`` in ``outcomes``; for a test whose module did not collect there,
    that module's outcome (as :func:`tfcanary.diff.expand_collection` compares it)."""
    if key in outcomes or key[1] != diff.TEST_VARIANT:
        return outcomes.get(key)
    failed = sorted((k[0] for k, o in outcomes.items() if k[2] == diff.COLLECT_MODE
                     and o.get("status") in diff.FAILED), key=len, reverse=True)
    owner = diff.collector_of(key[0], failed)
    return None if owner is None else outcomes[(owner, diff.TEST_VARIANT, diff.COLLECT_MODE)]


def select_keys(cases: Sequence[str], select: Sequence[str], a: _path.Endpoint,
                b: _path.Endpoint, only: Optional[Key] = None, high_risk: bool = False,
                tests: bool = False) -> List[Key]:
    """The (case, variant, mode) to bisect: those of the selected corpus (or ``only``) whose
    outcomes differ between A's and B's results files; all of them when either has none.
    With ``tests`` (a suite), the tests in A's or B's results count too (selected by node id,
    prefix or substring); a test whose module did not collect at one end is compared with that
    module's outcome.  ``high_risk`` keeps the changes the upgrade report ranks high (newly
    failing, no longer collecting, another exception class, became a crash or a timeout); it
    needs both results files."""
    from .. import corpus as _corpus

    universe: List[Key] = []
    if cases:
        c = _corpus.scan(list(cases)).select(list(select))
        universe = [(case.id, v, m) for case in c.cases for v in ("broken", "fixed")
                    if v in case.variants for m in case.modes]
    if tests:
        seen = {k for end in (a, b) for k in (end.outcomes or {})
                if k[1] == diff.TEST_VARIANT and k[2] != diff.COLLECT_MODE}
        universe += sorted(k for k in seen if not select or any(matches(p, k[0]) for p in select))
    if only is not None:
        if only not in universe and not (tests and only[1] == diff.TEST_VARIANT):
            raise UserError(f"Expected a case, variant and mode of the corpus in {', '.join(cases)}. "
                            f"Received: {'/'.join(only)} (not in the corpus; `tfcanary list` lists it).")
        return [only]
    if a.outcomes is None or b.outcomes is None:
        if high_risk or tests:
            raise UserError("Expected results files for both ends with --high-risk or --pytest (the changes "
                            f"are read from them). Received: pins for {a.name if a.outcomes is None else b.name}.")
        return universe
    ends = {k: (outcome_at(k, a.outcomes), outcome_at(k, b.outcomes)) for k in universe}
    keys = [k for k in universe if None not in ends[k] and Obs.of(ends[k][0]) != Obs.of(ends[k][1])]
    if high_risk:
        def risk(k: Key) -> str:
            x, y = Obs.of(ends[k][0]), Obs.of(ends[k][1])  # type: ignore[arg-type]
            change = diff._classify(x.status, y.status, x.exc or "", y.exc or "", x.fingerprint or "",
                                    y.fingerprint or "", compare_fingerprints=True)
            return diff.CHANGES[change][0]

        keys = [k for k in keys if risk(k) == "high"]
    return keys


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", name).strip("_")


def run(a_spec: str, b_spec: str, results_dirs: Sequence[str], cases: Sequence[str],
        select: Sequence[str] = (), only: Optional[Key] = None, high_risk: bool = False,
        timeout: float = 120.0,
        python: str = DEFAULT_PYTHON, out_dir: Optional[str] = None,
        index: Optional[_index.Index] = None, workspace: Optional[Workspace] = None,
        with_specs: Sequence[str] = (), tests: Sequence[str] = (), pytest_args: str = "",
        reset: bool = True, log: Callable[[str], None] = print) -> Tuple[Path, Path]:
    """Bisect A -> B and write ``<out_dir>/<A>--<B>.json`` and ``.md`` (out_dir: ``<results>/bisect``).

    ``with_specs``: the user's own packages (``-e .``, ``-r requirements.txt``),
    installed at every point as ``tfcanary run --with`` does; ``tests``: a suite's paths, run
    with pytest at every point for the tests to bisect (``pytest_args``, ``reset`` as for
    ``tfcanary run``)."""
    t0 = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for spec in (a_spec, b_spec):
        if "==" not in spec and names.label_problem(spec):
            raise UserError("Expected an environment label with a results file (tf2.16, nightly), or "
                            f"exact pins like 'tensorflow-cpu==2.16.2,keras==3.0.5'. Received: {spec!r}.")
    a = _path.endpoint(a_spec, results_dirs)
    b = _path.endpoint(b_spec, results_dirs)
    index = index or _index.Index(python=python)
    if workspace is None:
        from ..envs.install import with_install_args

        workspace = Workspace(cases, python=python, timeout=timeout, log=log,
                              with_args=with_install_args(with_specs, Path.cwd()), tests=tests,
                              pytest_args=pytest_args, reset=reset)
    if tests and only is None:
        # Pins at an end: which tests differ is seen by running the whole suite there first.
        ends = []
        for name, end in (("A", a), ("B", b)):
            if end.outcomes is None:
                log(f"{name}: {_path.pins_text(end.pins)}: running the whole suite to see what differs")
                got = workspace.probe(end.pins, [], everything=True)
                if got is None:
                    raise UserError(f"Expected endpoint {name} to install and run the suite. Received: a "
                                    f"failure: {workspace.runs[end.pins].message[-1500:]}")
                end = dataclasses.replace(end, outcomes=got)
            ends.append(end)
        a, b = ends
    keys = select_keys(cases, select, a, b, only, high_risk, tests=bool(tests))
    log(f"A: {_path.pins_text(a.pins)}; B: {_path.pins_text(b.pins)}; "
        f"{len(keys)} (case, variant, mode) to bisect")
    try:
        path = _path.build_path(a.pins, b.pins, index)
    except _index.IndexUnreachable as exc:
        raise UserError(str(exc)) from None
    log(f"path: {len(path.points)} points from A to B, one package per step"
        + (f"; no wheel for Python {python} here: {', '.join(path.no_wheel)}" if path.no_wheel else ""))
    ws = workspace
    probed: List[int] = []

    def probe(i: int, ks: Sequence[Key]) -> Optional[Dict[Key, Obs]]:
        pins = path.points[i]
        probed.append(i)
        log(f"[{len(probed)}] point {i}/{len(path.points) - 1} {_path.pins_text(pins)}: "
            f"{len({k[0] for k in ks})} case(s) for {len(ks)} transition(s)")
        got = ws.probe(pins, ks) if ks else {}
        if got is None:
            return None
        return {k: Obs.of(o) for k in ks for o in [outcome_at(k, got)] if o is not None}

    findings = search(len(path.points), keys, probe) if keys else []
    doc = {
        "schema": SCHEMA, "kind": KIND, "started": started,
        "wall_s": round(time.perf_counter() - t0, 1),
        "a": a.to_dict(), "b": b.to_dict(), "python": python, "index": index.url,
        "cases": [str(c) for c in cases], "select": list(select), "with": list(with_specs),
        "pytest": list(tests),
        "only": None if only is None else list(only), "high_risk": high_risk,
        "environments_probed": len(set(probed)), "probes": len(probed),
        "environments_built": sum(1 for r in ws.runs.values()
                                  if not r.reused and r.state != "install-failed"),
        "path": [{"pins": dict(p), "step": s, **ws.runs.get(p, PointRun()).to_dict()}
                 for p, s in zip(path.points, path.steps)],
        "no_wheel": path.no_wheel,
        "transitions": [{**f.to_dict(), "line": line(f, path.points),
                         "first_changed": first_changed_text(f, path.points)} for f in findings],
    }
    return write(doc, Path(out_dir) if out_dir else Path(results_dirs[0]) / "bisect")


def write(doc: Dict[str, object], out_dir: Path) -> Tuple[Path, Path]:
    """Write the bisection's JSON and its Markdown summary, atomically."""
    name = f"{slug(doc['a']['name'])}--{slug(doc['b']['name'])}"  # type: ignore[index]
    json_path, md_path = results.file_in(out_dir, f"{name}.json"), results.file_in(out_dir, f"{name}.md")
    results.write_json_atomic(json_path, doc)
    results.write_text_atomic(md_path, markdown(doc))
    return json_path, md_path


def read(path: Path) -> Dict[str, object]:
    """A bisection file (refusing a newer schema), checked (:func:`problems`): a
    :class:`~tfcanary.results.ResultsError` naming it and what is wrong otherwise."""
    doc = results.read(path, kind=KIND, version=SCHEMA)
    found = problems(doc)
    if found:
        raise results.ResultsError(f"{path}: not a usable bisection file: {results.describe_problems(found)}")
    return doc


def problems(doc: Dict[str, object]) -> List[str]:
    """What is wrong with a bisection document, in what :func:`first_changed` and the
    command's output read: the two ends' names, and each transition."""
    out: List[str] = []
    for end in ("a", "b"):
        e = doc.get(end)
        if not isinstance(e, dict) or not isinstance(e.get("name"), str):
            out.append(f"{end}: expected an object with the endpoint's name. Received: {names.shown(e)}")
    if doc.get("transitions") is None:
        out.append("transitions: expected a list. Received: None")
    for where, t in results.objects(doc.get("transitions"), "transitions", out):
        for problem in (names.item_id_problem(t.get("case")), names.word_problem(t.get("variant"), "variant"),
                        names.word_problem(t.get("mode"), "mode")):
            if problem:
                out.append(f"{where}: expected {problem}")
        for k in ("state", "line", "first_changed"):
            if not isinstance(t.get(k), (str, type(None))):
                out.append(f"{where}.{k}: expected text. Received: {names.shown(t.get(k))}")
    return out


def markdown(doc: Dict[str, object]) -> str:
    """The Markdown summary of one bisection: what changed where, then what could not be told."""
    a, b = doc["a"], doc["b"]
    ts = doc["transitions"]
    by_state: Dict[str, list] = {}
    for t in ts:  # type: ignore[union-attr]
        by_state.setdefault(t["state"], []).append(t)
    path = doc["path"]
    failed = [p for p in path if p["state"] in ("install-failed", "probe-failed")]  # type: ignore[union-attr]
    out = [f"# Which release changed it? {a['name']} -> {b['name']}", "",  # type: ignore[index]
           f"- A: {_path.pins_text(tuple(a['pins'].items()))}",  # type: ignore[index]
           f"- B: {_path.pins_text(tuple(b['pins'].items()))}",  # type: ignore[index]
           f"- path: {len(path)} points, one package changing per step; "  # type: ignore[arg-type]
           f"{doc['environments_probed']} environments probed ({doc['probes']} probes), "
           f"{doc['environments_built']} built; {doc['wall_s']} s", ""]
    titles = [("found", "First changed"), ("nondeterministic", "Nondeterministic (not bisected)"),
              ("unchanged", "Same outcome at both ends when probed again"),
              ("absent", "Absent at one end")]
    if not ts:
        out += ["No (case, variant, mode) differs between A and B.", ""]
    for state, title in titles:
        rows = by_state.get(state, [])
        if rows:
            out += [f"## {title} ({len(rows)})", ""] + [f"- `{r['line']}`" for r in rows] + [""]
    if failed:
        out += [f"## Could not be installed or probed ({len(failed)})", ""]
        for p in failed:
            msg = (p["message"] or "").strip().splitlines()
            out.append(f"- {_path.pins_text(tuple(p['pins'].items()))}: {p['state']}"
                       + (f": `{msg[-1][:300]}`" if msg else ""))
        out.append("")
    if doc.get("no_wheel"):
        out += [f"No wheel for Python {doc['python']} on this platform: {', '.join(doc['no_wheel'])}", ""]  # type: ignore[arg-type]
    return "\n".join(out)


def first_changed(results_dirs: Sequence[str]) -> Dict[Key, str]:
    """{(case, variant, mode): "keras 3.5.0 (3.4.1 before)"} from ``<dir>/bisect/*.json``.

    Only transitions whose first changing version was found; a later file (by
    name) wins for a key found in two bisections.  Missing folders are fine.  In
    ``<dir>/bisect/`` every ``*.json`` is a bisection, and one that cannot be read
    is an error naming it; in ``<dir>`` itself (no ``bisect/`` folder) only the
    files that declare ``"kind": "bisect"`` are read: the others are results
    files, which :func:`tfcanary.store.read_all` checks.
    """
    out: Dict[Key, str] = {}
    for d in results_dirs:
        sub = Path(d) / "bisect"
        folder, beside_results = (sub, False) if sub.is_dir() else (Path(d), True)
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.json")):
            if p.name.startswith(".") or p.is_dir():
                continue
            if beside_results and not _declares_bisect(p):
                continue
            doc = read(p)
            for t in doc.get("transitions", []):  # type: ignore[union-attr]
                if t.get("state") == "found" and t.get("first_changed"):
                    out[(t["case"], t["variant"], t["mode"])] = t["first_changed"]
    return out


def _declares_bisect(path: Path) -> bool:
    try:
        doc = results.load_json(path, "results file")
    except results.ResultsError:
        return False      # the results reader names it
    return isinstance(doc, dict) and doc.get("kind") == KIND


def print_lines(doc: Dict[str, object], stream=sys.stdout) -> None:
    for t in doc["transitions"]:  # type: ignore[union-attr]
        print(t["line"], file=stream)


