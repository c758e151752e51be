"""The version matrix, defined once: nox, asv and CI derive from it.

Each :class:`Entry` is one environment: a label, the TensorFlow it pins, the
Keras flavour, the Python it needs and, for an *as released* entry, the day
its TensorFlow was published.  An as-released entry installs with
``uv pip install --exclude-newer <day after release>``: what a user got on
release day (for TF >= 2.16 that decides the Keras 3 version, since
TensorFlow only asks for ``keras>=3``).  A *latest* entry takes today's newest
compatible packages.

Labels: a plain ``tfX.Y`` is the as-released install, except the newest
stable minor (2.21), whose plain label is today's install (what ``pip install
tensorflow`` gives now) and whose release-day install is ``tf2.21-released``.
``-latest`` marks the today's-install variant of older Keras 3 minors; Keras 2
minors (2.12-2.15) pin their Keras, so they have one entry each, as released on
their last patch's day.  ``tf2.21-legacy`` is tf-keras with
``TF_USE_LEGACY_KERAS=1``; ``nightly`` is tf-nightly + keras-nightly, with the
exact versions recorded in its results (or pinned in ``nightly-pins.txt``).

Standard library only: the noxfile imports it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import os
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from .errors import UsageError
from .names import label_problem

T = TypeVar("T")

DEFAULT_PYTHON = "3.11"


@dataclasses.dataclass(frozen=True)
class Entry:
    label: str
    tf: str                      # version of TensorFlow: "2.15.*", or "nightly"
    flavour: str                 # "keras2" | "keras3" | "tf-keras"
    python: str = DEFAULT_PYTHON
    released: Optional[str] = None   # ISO day the pinned TF was published (as-released entries)
    keras: Optional[str] = None      # an explicit Keras requirement, if any
    extra: Tuple[str, ...] = ()      # more requirements (tf-keras)
    env: Tuple[Tuple[str, str], ...] = ()   # environment variables for the probe
    default: bool = False
    note: str = ""

    @property
    def kind(self) -> str:
        if self.tf == "nightly":
            return "nightly"
        return "released" if self.released else "latest"

    @property
    def exclude_newer(self) -> Optional[str]:
        """The ``--exclude-newer`` day: the day after release (uv excludes that day's uploads on)."""
        if not self.released:
            return None
        day = _dt.date.fromisoformat(self.released) + _dt.timedelta(days=1)
        return day.isoformat()

    def requirements(self, gpu: bool = False, pins: Optional[Dict[str, str]] = None) -> List[str]:
        """What ``uv pip install`` gets for this entry.

        ``gpu`` installs the CUDA build (``tensorflow[and-cuda]``) instead of
        ``tensorflow-cpu``; ``pins`` maps package -> exact version (nightly).
        """
        pins = pins or {}
        if self.tf == "nightly":
            # tf-nightly-cpu stopped being published in 2026-09: tf-nightly runs on the CPU too.
            base = "tf-nightly[and-cuda]" if gpu else "tf-nightly"
            reqs = [_pin(base, pins), _pin("keras-nightly", pins)]
        else:
            pkg = "tensorflow[and-cuda]" if gpu else "tensorflow-cpu"
            reqs = [f"{pkg}=={self.tf}"]
            if self.keras:
                reqs.append(f"keras{self.keras}")
        reqs.extend(self.extra)
        return reqs

    def to_dict(self) -> Dict[str, object]:
        d = dataclasses.asdict(self)
        d["env"] = dict(self.env)
        d["extra"] = list(self.extra)
        d["kind"] = self.kind
        d["exclude_newer"] = self.exclude_newer
        return d


def _pin(req: str, pins: Dict[str, str]) -> str:
    name = req.split("[", 1)[0]
    return f"{req}=={pins[name]}" if name in pins else req


def _k2(minor: str, patch_day: str, default: bool = False) -> Entry:
    return Entry(f"tf{minor}", f"{minor}.*", "keras2", released=patch_day, default=default,
                 note=f"Keras {minor}, as released with TF {minor}'s last patch")


def _k3(minor: str, day: str, default: bool = False) -> List[Entry]:
    return [
        Entry(f"tf{minor}", f"{minor}.*", "keras3", released=day, default=default,
              note=f"Keras 3 as released with TF {minor}"),
        Entry(f"tf{minor}-latest", f"{minor}.*", "keras3",
              note=f"TF {minor} with today's newest Keras 3"),
    ]


# Release days are the upload days of the tensorflow-cpu wheels on PyPI.
ENTRIES: Tuple[Entry, ...] = (
    _k2("2.12", "2023-07-05", default=True),   # 2.12.1
    _k2("2.13", "2023-09-26"),                 # 2.13.1
    _k2("2.14", "2023-11-14"),                 # 2.14.1
    _k2("2.15", "2024-03-08", default=True),   # 2.15.1
    *_k3("2.16", "2024-03-09", default=True),  # 2.16.1 with keras 3.0.5
    *_k3("2.17", "2024-07-11"),                # 2.17.0
    *_k3("2.18", "2024-10-25"),                # 2.18.0
    *_k3("2.19", "2025-03-12"),                # 2.19.0
    *_k3("2.20", "2025-08-13"),                # 2.20.0
    Entry("tf2.21", "2.21.*", "keras3", default=True,
          note="TF 2.21 with today's newest Keras 3"),
    Entry("tf2.21-released", "2.21.*", "keras3", released="2026-03-06",
          note="Keras 3 as released with TF 2.21"),
    Entry("tf2.21-legacy", "2.21.*", "tf-keras", extra=("tf-keras==2.21.*",),
          env=(("TF_USE_LEGACY_KERAS", "1"),), default=True,
          note="tf-keras 2.21 (Keras 2 API) with TF_USE_LEGACY_KERAS=1"),
    Entry("nightly", "nightly", "keras3", note="tf-nightly + keras-nightly"),
)


class MatrixError(UsageError, ValueError):
    """A label that is not in the matrix, or a malformed pins file."""


def by_label() -> Dict[str, Entry]:
    return {e.label: e for e in ENTRIES}


def default() -> List[Entry]:
    return [e for e in ENTRIES if e.default]


def full() -> List[Entry]:
    return list(ENTRIES)


def get(label: str) -> Entry:
    try:
        return by_label()[label]
    except KeyError:
        hint = ""
        m = re.match(r"^(?:tf)?(\d)\.?(\d+)$", label)
        close = difflib.get_close_matches(label, list(by_label()), n=3, cutoff=0.6)
        if m:   # a version: suggest its label only when the matrix has it
            guess = f"tf{m.group(1)}.{m.group(2)}"
            close = [guess] if guess in by_label() else []
            if not close:
                hint = f" The matrix has no TensorFlow {m.group(1)}.{m.group(2)}."
        if close:
            hint = " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        raise MatrixError(
            f"Expected an environment label like 'tf2.16' (one of: "
            f"{', '.join(by_label())}). Received: {label!r}.{hint}") from None


def order(items: Sequence[T], key: Optional[Callable[[T], str]] = None) -> List[T]:
    """``items`` in matrix (version) order of their labels (``key`` gives an
    item's label; the items are labels when it is None); unknown labels last,
    by name."""
    rank = {e.label: i for i, e in enumerate(ENTRIES)}
    label = key or (lambda item: item)
    return sorted(items, key=lambda item: (rank.get(label(item), len(rank)), label(item)))


def read_pins(path: os.PathLike) -> Dict[str, str]:
    """``name==version`` lines (comments with #) -> {name: version}."""
    pins: Dict[str, str] = {}
    p = Path(path)
    if not p.exists():
        return pins
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MatrixError(f"{p}: expected a pins file (UTF-8 text). Received: {exc}") from None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise MatrixError(f"{p}:{n}: expected 'package==version'. Received: {raw!r}")
        pins[name.strip()] = version.strip()
    return pins


def _check() -> None:
    seen = set()
    for e in ENTRIES:
        if label_problem(e.label) or e.label in seen:
            raise MatrixError(f"bad or duplicate matrix label {e.label!r}")
        seen.add(e.label)


_check()
