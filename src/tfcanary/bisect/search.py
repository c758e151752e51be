"""The search: bisect every open transition over the points of a path, all at once.

:func:`search` knows nothing of packages or environments: it is given the
number of points and a function that probes some keys at one point (see
:mod:`tfcanary.bisect.run`).  An *outcome* (:class:`Obs`) is what the
regression check compares: status, short exception class and fingerprint.  An
outcome that differs between two probes of the same end is reported as
``nondeterministic`` and not bisected.  Points that cannot be probed are
skipped; an interval they leave open is reported as such, never guessed.
:func:`line` says a finding in words.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import UserError
from .path import Key, Pins, pins_text


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

def step_words(before: Pins, first: Pins) -> Tuple[str, str, str]:
    """(what changed, what it was before, what stayed) between two points of a path."""
    old = dict(before)
    new = dict(first)
    changed = [p for p in new if old.get(p) != new[p]]
    held = [p for p in new if p in old and old[p] == new[p]]
    gone = [p for p in old if p not in new]
    if len(changed) == 1 and not gone:
        p = changed[0]
        return f"{p} {new[p]}", old.get(p, "none"), pins_text(tuple((h, new[h]) for h in held))
    now = pins_text(tuple((p, new[p]) for p in changed))
    was = pins_text(tuple((p, old[p]) for p in [*(c for c in changed if c in old), *gone]))
    return now, was, pins_text(tuple((h, new[h]) for h in held))


def skipped_words(skipped: Sequence[int], points: Sequence[Pins]) -> str:
    """``2 between could not be installed: tensorflow-cpu 2.15.1 + keras 3.0.0, ...`` (first and last of many)."""
    names = [pins_text(points[i]) for i in skipped]
    shown = ", ".join(names) if len(names) <= 3 else f"{names[0]}, ..., {names[-1]}"
    return f"{len(names)} between could not be installed: {shown}"


def line(f: Finding, points: Sequence[Pins]) -> str:
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


def first_changed_text(f: Finding, points: Sequence[Pins]) -> Optional[str]:
    """``keras 3.5.0 (3.4.1 before)`` for a found transition, else None."""
    if f.state != "found" or f.before is None or f.first is None:
        return None
    now, was, _held = step_words(points[f.before], points[f.first])
    return f"{now} ({was} before)"
