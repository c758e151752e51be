"""Endpoints and the path of versions between them.

- :func:`endpoint` turns ``tf2.16`` (its results file says which exact versions
  it had) or ``tensorflow-cpu==2.16.2,keras==3.0.5`` into exact pins.
- :func:`build_path` asks the package index for every version between two
  endpoints and lays out a path from A to B where each step changes one
  package, in upload order (a TensorFlow release, then the Keras releases that
  came out while it was newest, and so on).  From a stable release to the
  nightly builds the first step swaps both packages for their nightly twins.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .. import results
from ..envs import index as _index
from ..errors import UserError
TF_PACKAGES = ("tensorflow-cpu", "tensorflow", "tf-nightly")
KERAS_PACKAGES = ("keras-nightly", "keras")
NIGHTLY_TWIN = {"tensorflow-cpu": "tf-nightly", "tensorflow": "tf-nightly", "keras": "keras-nightly"}
Key = Tuple[str, str, str]
Pins = Tuple[Tuple[str, str], ...]       # ((tf package, version), (keras package, version), extras...)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One end of a bisection: a name, exact pins and (from a results file) its outcomes."""

    name: str
    pins: Pins
    outcomes: Optional[Dict[Key, Dict[str, object]]] = None

    def to_dict(self) -> Dict[str, object]:
        return {"name": self.name, "pins": dict(self.pins)}


def pins_text(pins: Pins) -> str:
    return " + ".join(f"{p} {v}" for p, v in pins)


def _split_pins(found: Dict[str, str], where: str) -> Pins:
    tf = next((p for p in TF_PACKAGES if p in found), None)
    keras = next((p for p in KERAS_PACKAGES if p in found), None)
    if tf is None or keras is None:
        raise UserError(f"Expected a TensorFlow package ({', '.join(TF_PACKAGES)}) and a Keras package "
                        f"({', '.join(KERAS_PACKAGES)}) in {where}. Received: {sorted(found)}.")
    rest = tuple((p, v) for p, v in sorted(found.items()) if p == "tf-keras")
    return ((tf, found[tf]), (keras, found[keras])) + rest


def endpoint(spec: str, results_dirs: Sequence[str]) -> Endpoint:
    """``tf2.16`` (read ``<results>/tf2.16.json``) or ``tensorflow-cpu==2.16.2,keras==3.0.5``."""
    if "==" in spec:
        found: Dict[str, str] = {}
        for part in spec.split(","):
            name, sep, version = part.strip().partition("==")
            if not sep or not name or not version:
                raise UserError(f"Expected pins like 'tensorflow-cpu==2.16.2,keras==3.0.5'. Received: {spec!r}.")
            try:
                _index.version_key(version)
            except ValueError as exc:
                raise UserError(str(exc)) from None
            found[_index.normalize_name(name)] = version.strip()
        return Endpoint(spec, _split_pins(found, repr(spec)))
    for d in results_dirs:
        path = Path(d) / f"{spec}.json"
        if path.exists():
            doc = results.read(path)
            if doc.get("status") != "ok":
                raise UserError(f"Expected a probed environment at {path}. Received: status "
                                f"{doc.get('status')!r}. Probe it again (`nox -s {spec}`).")
            freeze = doc.get("metadata", {}).get("pip_freeze") or []
            found = {}
            for line in freeze:
                name, sep, version = str(line).partition("==")
                if sep:
                    found[_index.normalize_name(name)] = version.strip()
            outcomes = {(o["case"], o["variant"], o["mode"]): o for o in doc.get("outcomes", [])}
            return Endpoint(spec, _split_pins(found, f"{path}'s package list"), outcomes)
    where = ", ".join(str(d) for d in results_dirs)
    raise UserError(f"Expected a results file {spec}.json in {where}, or exact pins like "
                    f"'tensorflow-cpu==2.16.2,keras==3.0.5'. Received: {spec!r} with no results file. "
                    f"Probe it first: `nox -s {spec}`.")


@dataclasses.dataclass
class Route:
    """The points from A to B and what was left out of it."""

    points: List[Pins]
    steps: List[str]                       # what changed at each point ("" for A)
    no_wheel: List[str]                    # versions with no wheel for this Python/platform


def _role_events(index: _index.Index, pa: str, va: str, pb: str, vb: str,
                 no_wheel: List[str]) -> List[Tuple[str, Optional[str]]]:
    """Versions (and upload times) the package of one role takes after ``va`` up to ``vb``."""
    nightly = pa != pb or _index.is_prerelease(vb)
    releases = index.releases(pb, prereleases=nightly)
    kb = _index.version_key(vb)
    if pa == pb:
        ka = _index.version_key(va)
        if kb < ka:
            raise UserError(f"Expected B to be newer than A. Received: {pb} {vb} in B and {va} in A; "
                            "swap the two.")
        chosen = [r for r in releases if ka < _index.version_key(r.version) <= kb]
    else:
        since = {r.version: r.uploaded for r in index.releases(pa, prereleases=True)}.get(va)
        chosen = [r for r in releases if _index.version_key(r.version) <= kb
                  and (since is None or (r.uploaded or "") > since)]
    out = []
    for r in chosen:
        if r.installable or r.version == vb:
            out.append((r.version, r.uploaded))
        else:
            no_wheel.append(f"{pb} {r.version}")
    if not out or _index.version_key(out[-1][0]) != kb:
        out.append((vb, None))
    return out


def build_path(a: Pins, b: Pins, index: _index.Index) -> Route:
    """Every point from A to B, one package changing per step, in upload order.

    The TensorFlow and Keras packages are the two roles (any further pins, such
    as tf-keras, are taken from B from the start).  When a role changes package
    (``tensorflow-cpu`` to ``tf-nightly``), the first step swaps both roles to
    their first build after A's release together.
    """
    if len(a) < 2 or len(b) < 2:
        raise UserError("Expected a TensorFlow and a Keras package at each end.")
    if {p for p, _ in a[2:]} != {p for p, _ in b[2:]}:
        raise UserError(f"Expected the same extra packages at both ends. Received: {pins_text(a[2:])!r} "
                        f"and {pins_text(b[2:])!r}.")
    no_wheel: List[str] = []
    events = []
    for role in (0, 1):
        (pa, va), (pb, vb) = a[role], b[role]
        if pa != pb and NIGHTLY_TWIN.get(pa) != pb:
            raise UserError(f"Expected {pa} at both ends, or {pa} at A and {NIGHTLY_TWIN.get(pa, pa)} at B. "
                            f"Received: {pb} at B.")
        events.append([] if (pa, va) == (pb, vb) else _role_events(index, pa, va, pb, vb, no_wheel))
    current = [a[0], a[1]]
    points: List[Pins] = [a]
    steps = [""]
    swapped = [role for role in (0, 1) if a[role][0] != b[role][0]]
    if swapped:
        for role in (0, 1):
            if events[role]:
                current[role] = (b[role][0], events[role].pop(0)[0])
        points.append(tuple(current) + b[2:])
        steps.append(pins_text(tuple(current)))
    while events[0] or events[1]:
        heads = [(ev[0][1] or "~", role) for role, ev in enumerate(events) if ev]
        role = min(heads)[1]
        version = events[role].pop(0)[0]
        current[role] = (current[role][0], version)
        points.append(tuple(current) + b[2:])
        steps.append(f"{current[role][0]} {version}")
    if points[-1] != b and not (a == b):
        points.append(b)
        steps.append(pins_text(b))
    return Route(points, steps, no_wheel)
