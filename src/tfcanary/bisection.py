"""Bisection: the first release, or the first nightly build, at which an outcome changed.

    tfcanary bisect tf2.16 tf2.21 --results results          # every transition between the two
    tfcanary bisect tf2.21 nightly --results results --select 'keras-tensor-*'
    tfcanary bisect tensorflow-cpu==2.16.2,keras==3.4.1 tensorflow-cpu==2.16.2,keras==3.6.0 \\
        --case sequential-model-output --variant broken --mode script

The pipeline: endpoints (exact versions; a label's results file says which)
-> path (every version between them on the package index, one package changing
per step: :func:`tfcanary._bisect_env.build_path`) -> :func:`search` (probe
both ends twice, then halve every open interval, all open transitions probed
together in each environment) -> :func:`write` (``<results>/bisect/<A>--<B>.json``
and ``.md``).

An *outcome* is what the regression check compares: status, short exception
class and fingerprint.  An outcome that differs between two probes of the same
end is reported as ``nondeterministic`` and not bisected.  Versions that cannot
be installed (or whose TensorFlow does not import) are skipped and listed; an
interval that they leave open is reported as such, never guessed.

:func:`first_changed` reads the JSON files back for the reports.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import _bisect_env, _index, results
from .errors import UserError

SCHEMA = 1
KIND = "bisect"
Key = Tuple[str, str, str]


@dataclasses.dataclass(frozen=True)
class Obs:
    """An outcome as the check compares it: status, short exception class, fingerprint."""

    status: str
    exc: Optional[str] = None
    fingerprint: Optional[str] = None

    @classmethod
    def of(cls, outcome: Dict[str, object]) -> "Obs":
        status = str(outcome.get("status"))
        if status != "error":
            return cls(status)
        exc = outcome.get("exc_type")
        return cls(status, None if exc is None else str(exc).rsplit(".", 1)[-1],
                   outcome.get("fingerprint"))  # type: ignore[arg-type]

    def text(self) -> str:
        return self.exc if self.status == "error" and self.exc else self.status

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, object]) -> "Obs":
        return cls(**d)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Finding:
    """What the search found for one (case, variant, mode).

    ``state``: ``found`` (``before`` and ``first`` are indices of the path, the
    last point with A's outcome and the first without it; points between them,
    if any, are ``skipped``: not installable), ``nondeterministic`` (``a2``/``b2``
    differ from ``a``/``b`` on a second probe of the same end), ``unchanged``
    (same outcome at both ends when probed here) or ``absent`` (not probed at
    one end: the case is not in the corpus, or the mode does not exist there).
    """

    key: Key
    state: str
    a: Optional[Obs] = None
    b: Optional[Obs] = None
    a2: Optional[Obs] = None
    b2: Optional[Obs] = None
    before: Optional[int] = None
    first: Optional[int] = None
    first_obs: Optional[Obs] = None
    skipped: Tuple[int, ...] = ()
    later: Tuple[Tuple[int, int, Obs], ...] = ()     # (before, first, outcome) of each later change

    def to_dict(self) -> Dict[str, object]:
        d: Dict[str, object] = {"case": self.key[0], "variant": self.key[1], "mode": self.key[2],
                                "state": self.state}
        for name in ("a", "b", "a2", "b2", "first_obs"):
            o = getattr(self, name)
            d[name] = None if o is None else o.to_dict()
        d.update(before=self.before, first=self.first, skipped=list(self.skipped),
                 later=[{"before": b, "first": f, "obs": o.to_dict()} for b, f, o in self.later])
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, object]) -> "Finding":
        obs = {n: None if d.get(n) is None else Obs.from_dict(d[n])  # type: ignore[arg-type]
               for n in ("a", "b", "a2", "b2", "first_obs")}
        return cls((str(d["case"]), str(d["variant"]), str(d["mode"])), str(d["state"]),
                   before=d.get("before"), first=d.get("first"),  # type: ignore[arg-type]
                   skipped=tuple(d.get("skipped") or ()),  # type: ignore[arg-type]
                   later=tuple((c["before"], c["first"], Obs.from_dict(c["obs"]))
                               for c in d.get("later") or ()), **obs)  # type: ignore[union-attr]


# probe(i, keys) -> outcomes of keys at point i, or None when point i cannot be installed/probed.
ProbeFn = Callable[[int, Sequence[Key]], Optional[Dict[Key, Obs]]]


def search(n: int, keys: Sequence[Key], probe: ProbeFn) -> List[Finding]:
    """Bisect every key over the points ``0..n-1`` (0 is A, n-1 is B), all keys together.

    Both ends are probed twice first.  Then, while any key has untried points
    inside its interval, the point that is the midpoint of the most open
    intervals is probed, for every key whose interval holds it: one environment
    narrows them all.  A point where the probe returns None is skipped for
    good.  The answer for a key is the first point whose outcome differs from
    A's, assuming one change along the path (the usual bisection assumption).
    """
    if n < 2:
        raise UserError("Expected two different endpoints. Received: the same versions at A and B.")
    a1, b1 = probe(0, keys), probe(n - 1, keys)
    for name, got in (("A", a1), ("B", b1)):
        if got is None:
            raise UserError(f"Expected endpoint {name} to install and probe. Received: a failure "
                            "(see the environment's message in the log).")
    assert a1 is not None and b1 is not None
    findings: Dict[Key, Finding] = {}
    moving = []
    for k in keys:
        if k not in a1 or k not in b1:
            findings[k] = Finding(k, "absent", a1.get(k), b1.get(k))
        elif a1[k] == b1[k]:
            findings[k] = Finding(k, "unchanged", a1[k], b1[k])
        else:
            moving.append(k)
    a2 = probe(0, moving) or {} if moving else {}
    b2 = probe(n - 1, moving) or {} if moving else {}
    lo: Dict[Key, int] = {}
    hi: Dict[Key, int] = {}
    seen: Dict[Key, Dict[int, Obs]] = {}
    for k in moving:
        if a2.get(k) != a1[k] or b2.get(k) != b1[k]:
            findings[k] = Finding(k, "nondeterministic", a1[k], b1[k], a2.get(k), b2.get(k))
        else:
            lo[k], hi[k], seen[k] = 0, n - 1, {0: a1[k], n - 1: b1[k]}
    dead: set = set()
    holes: Dict[Key, set] = {k: set() for k in lo}
    changes: Dict[Key, List[Tuple[int, int]]] = {k: [] for k in lo}
    done: set = set()

    def candidates(k: Key) -> List[int]:
        return [i for i in range(lo[k] + 1, hi[k]) if i not in dead and i not in holes[k]]

    def close(k: Key) -> None:
        # The interval is as narrow as it gets.  If the outcome there is not B's, it changed again
        # later: the next interval runs from the last point with this outcome to the next without.
        changes[k].append((lo[k], hi[k]))
        now = seen[k][hi[k]]
        if now == seen[k][n - 1]:
            done.add(k)
            return
        nxt = min(i for i in seen[k] if i > hi[k] and seen[k][i] != now)
        lo[k] = max(i for i in seen[k] if hi[k] <= i < nxt and seen[k][i] == now)
        hi[k] = nxt

    while True:
        for k in lo:
            while k not in done and not candidates(k):
                close(k)
        mids: Counter = Counter()
        for k in lo:
            if k not in done:
                c = candidates(k)
                mids[c[len(c) // 2]] += 1
        if not mids:
            break
        point = min(mids, key=lambda i: (-mids[i], i))
        open_keys = [k for k in lo if k not in done and lo[k] < point < hi[k] and point not in holes[k]]
        got = probe(point, open_keys)
        if got is None:
            dead.add(point)
            continue
        for k in open_keys:
            if k not in got:
                holes[k].add(point)      # the case or mode does not exist at this point
                continue
            seen[k][point] = got[k]
            if got[k] == seen[k][lo[k]]:
                lo[k] = point
            else:
                hi[k] = point
    for k in lo:
        (before, first), *later = changes[k]
        findings[k] = Finding(k, "found", seen[k][0], seen[k][n - 1], a2[k], b2[k], before, first,
                              seen[k][first], tuple(range(before + 1, first)),
                              tuple((b, f, seen[k][f]) for b, f in later))
    return [findings[k] for k in keys]


# --- describing -------------------------------------------------------------------------------

def step_words(before: _bisect_env.Pins, first: _bisect_env.Pins) -> Tuple[str, str, str]:
    """(what changed, what it was before, what stayed) between two points of a path."""
    old = dict(before)
    new = dict(first)
    changed = [p for p in new if old.get(p) != new[p]]
    held = [p for p in new if p in old and old[p] == new[p]]
    gone = [p for p in old if p not in new]
    if len(changed) == 1 and not gone:
        p = changed[0]
        return f"{p} {new[p]}", old.get(p, "none"), _bisect_env.pins_text(tuple((h, new[h]) for h in held))
    now = _bisect_env.pins_text(tuple((p, new[p]) for p in changed))
    was = _bisect_env.pins_text(tuple((p, old[p]) for p in [*(c for c in changed if c in old), *gone]))
    return now, was, _bisect_env.pins_text(tuple((h, new[h]) for h in held))


def skipped_words(skipped: Sequence[int], points: Sequence[_bisect_env.Pins]) -> str:
    """``2 between could not be installed: tensorflow-cpu 2.15.1 + keras 3.0.0, ...`` (first and last of many)."""
    names = [_bisect_env.pins_text(points[i]) for i in skipped]
    shown = ", ".join(names) if len(names) <= 3 else f"{names[0]}, ..., {names[-1]}"
    return f"{len(names)} between could not be installed: {shown}"


def line(f: Finding, points: Sequence[_bisect_env.Pins]) -> str:
    """One line per finding, e.g. ``case/broken/script: ValueError -> AttributeError first in keras 3.5.0
    (3.4.1 before it; tensorflow-cpu 2.16.2 held fixed)``."""
    name = "/".join(f.key)
    if f.state == "nondeterministic":
        return (f"{name}: nondeterministic, not bisected (A: {f.a.text() if f.a else '-'} then "
                f"{f.a2.text() if f.a2 else '-'}; B: {f.b.text() if f.b else '-'} then "
                f"{f.b2.text() if f.b2 else '-'})")
    if f.state != "found":
        return f"{name}: {f.state} ({f.a.text() if f.a else 'absent'} at A, {f.b.text() if f.b else 'absent'} at B)"
    assert f.before is not None and f.first is not None and f.a and f.first_obs
    now, was, held = step_words(points[f.before], points[f.first])
    a_text, new_text = f.a.text(), f.first_obs.text()
    if a_text == new_text:
        new_text += " (another message)"
    extra = [held + " held fixed"] if held else []
    if f.skipped:
        extra.append(skipped_words(f.skipped, points))
    text = f"{name}: {a_text} -> {new_text} first in {now} ({was} before it" + "".join(
        "; " + e for e in extra) + ")"
    previous = f.first_obs
    for before, first, obs in f.later:
        now, was, _held = step_words(points[before], points[first])
        gap = "; " + skipped_words(range(before + 1, first), points) if first - before > 1 else ""
        same = " (another message)" if obs.text() == previous.text() else ""
        text += f"; then {obs.text()}{same} first in {now} ({was} before it{gap})"
        previous = obs
    return text


def first_changed_text(f: Finding, points: Sequence[_bisect_env.Pins]) -> Optional[str]:
    """``keras 3.5.0 (3.4.1 before)`` for a found transition, else None."""
    if f.state != "found" or f.before is None or f.first is None:
        return None
    now, was, _held = step_words(points[f.before], points[f.first])
    return f"{now} ({was} before)"


# --- the pipeline -----------------------------------------------------------------------------

def select_keys(cases: Sequence[str], select: Sequence[str], a: _bisect_env.Endpoint,
                b: _bisect_env.Endpoint, only: Optional[Key] = None, high_risk: bool = False) -> List[Key]:
    """The (case, variant, mode) to bisect: those of the selected corpus (or ``only``) whose
    outcomes differ between A's and B's results files; all of them when either has none.
    ``high_risk`` keeps the changes the upgrade report ranks high (newly failing, another
    exception class, became a crash or a timeout); it needs both results files."""
    from . import corpus as _corpus

    c = _corpus.load(list(cases)).select(list(select))
    universe = [(case.id, v, m) for case in c.cases for v in ("broken", "fixed")
                if v in case.variants for m in case.modes]
    if only is not None:
        if only not in universe:
            raise UserError(f"Expected a case, variant and mode of the corpus in {', '.join(cases)}. "
                            f"Received: {'/'.join(only)} (not in the corpus; `tfcanary list` lists it).")
        return [only]
    if a.outcomes is None or b.outcomes is None:
        if high_risk:
            raise UserError("Expected results files for both ends with --high-risk (it ranks the changes "
                            f"between them). Received: pins for {a.name if a.outcomes is None else b.name}.")
        return universe
    keys = [k for k in universe if k in a.outcomes and k in b.outcomes
            and Obs.of(a.outcomes[k]) != Obs.of(b.outcomes[k])]
    if high_risk:
        from . import diff

        def risk(k: Key) -> str:
            x, y = Obs.of(a.outcomes[k]), Obs.of(b.outcomes[k])  # type: ignore[index]
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
        python: str = _bisect_env.DEFAULT_PYTHON, out_dir: Optional[str] = None,
        index: Optional[_index.Index] = None, workspace: Optional[_bisect_env.Workspace] = None,
        log: Callable[[str], None] = print) -> Tuple[Path, Path]:
    """Bisect A -> B and write ``<out_dir>/<A>--<B>.json`` and ``.md`` (out_dir: ``<results>/bisect``)."""
    t0 = time.perf_counter()
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    a = _bisect_env.endpoint(a_spec, results_dirs)
    b = _bisect_env.endpoint(b_spec, results_dirs)
    keys = select_keys(cases, select, a, b, only, high_risk)
    log(f"A: {_bisect_env.pins_text(a.pins)}; B: {_bisect_env.pins_text(b.pins)}; "
        f"{len(keys)} (case, variant, mode) to bisect")
    index = index or _index.Index(python=python)
    try:
        path = _bisect_env.build_path(a.pins, b.pins, index)
    except _index.IndexUnreachable as exc:
        raise UserError(str(exc)) from None
    log(f"path: {len(path.points)} points from A to B, one package per step"
        + (f"; no wheel for Python {python} here: {', '.join(path.no_wheel)}" if path.no_wheel else ""))
    ws = workspace or _bisect_env.Workspace(cases, python=python, timeout=timeout, log=log)
    probed: List[int] = []

    def probe(i: int, ks: Sequence[Key]) -> Optional[Dict[Key, Obs]]:
        pins = path.points[i]
        probed.append(i)
        log(f"[{len(probed)}] point {i}/{len(path.points) - 1} {_bisect_env.pins_text(pins)}: "
            f"{len({k[0] for k in ks})} case(s) for {len(ks)} transition(s)")
        got = ws.probe(pins, ks) if ks else {}
        return None if got is None else {k: Obs.of(o) for k, o in got.items()}

    findings = search(len(path.points), keys, probe) if keys else []
    doc = {
        "schema": SCHEMA, "kind": KIND, "started": started,
        "wall_s": round(time.perf_counter() - t0, 1),
        "a": a.to_dict(), "b": b.to_dict(), "python": python, "index": index.url,
        "cases": [str(c) for c in cases], "select": list(select),
        "only": None if only is None else list(only), "high_risk": high_risk,
        "environments_probed": len(set(probed)), "probes": len(probed),
        "environments_built": sum(1 for r in ws.runs.values()
                                  if not r.reused and r.state != "install-failed"),
        "path": [{"pins": dict(p), "step": s, **ws.runs.get(p, _bisect_env.PointRun()).to_dict()}
                 for p, s in zip(path.points, path.steps)],
        "no_wheel": path.no_wheel,
        "transitions": [{**f.to_dict(), "line": line(f, path.points),
                         "first_changed": first_changed_text(f, path.points)} for f in findings],
    }
    return write(doc, Path(out_dir) if out_dir else Path(results_dirs[0]) / "bisect")


def write(doc: Dict[str, object], out_dir: Path) -> Tuple[Path, Path]:
    """Write the bisection's JSON and its Markdown summary, atomically."""
    name = f"{slug(doc['a']['name'])}--{slug(doc['b']['name'])}"  # type: ignore[index]
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    results.write_json_atomic(json_path, doc)
    results.write_text_atomic(md_path, markdown(doc))
    return json_path, md_path


def read(path: Path) -> Dict[str, object]:
    """A bisection file (refusing a newer schema)."""
    return results.read(path, kind=KIND, version=SCHEMA)


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
           f"- A: {_bisect_env.pins_text(tuple(a['pins'].items()))}",  # type: ignore[index]
           f"- B: {_bisect_env.pins_text(tuple(b['pins'].items()))}",  # type: ignore[index]
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
            out.append(f"- {_bisect_env.pins_text(tuple(p['pins'].items()))}: {p['state']}"
                       + (f": `{msg[-1][:300]}`" if msg else ""))
        out.append("")
    if doc.get("no_wheel"):
        out += [f"No wheel for Python {doc['python']} on this platform: {', '.join(doc['no_wheel'])}", ""]  # type: ignore[arg-type]
    return "\n".join(out)


def first_changed(results_dirs: Sequence[str]) -> Dict[Key, str]:
    """{(case, variant, mode): "keras 3.5.0 (3.4.1 before)"} from ``<dir>/bisect/*.json``.

    Only transitions whose first changing version was found; a later file (by
    name) wins for a key found in two bisections.  Missing folders are fine.
    """
    out: Dict[Key, str] = {}
    for d in results_dirs:
        folder = Path(d) / "bisect" if (Path(d) / "bisect").is_dir() else Path(d)
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.json")):
            try:
                doc = read(p)
            except results.ResultsError:
                continue        # another kind of file (results of an environment)
            for t in doc.get("transitions", []):  # type: ignore[union-attr]
                if t.get("state") == "found" and t.get("first_changed"):
                    out[(t["case"], t["variant"], t["mode"])] = t["first_changed"]
    return out


def print_lines(doc: Dict[str, object], stream=sys.stdout) -> None:
    for t in doc["transitions"]:  # type: ignore[union-attr]
        print(t["line"], file=stream)


__all__ = ["Finding", "Obs", "first_changed", "line", "read", "run", "search", "write"]

