"""Outcome records: what happened to one (case, variant, mode) in one environment.

The engine makes every outcome as an :class:`Outcome` (the worker for what an
item did, the supervisor for a crash or a timeout) and writes its
:meth:`Outcome.to_dict`; the host reads results back with
:meth:`Outcome.from_dict`.  Standard library only: the engine imports it.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict, Optional, Tuple


class Status(str, enum.Enum):
    OK = "ok"
    ERROR = "error"
    CRASH = "crash"
    TIMEOUT = "timeout"
    SKIP = "skip"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One (case, variant, mode) in one environment.

    For ``error``: ``exc_type`` is module-qualified
    (``tensorflow.python.framework.errors_impl.InvalidArgumentError``),
    ``message`` raw, ``normalized`` and ``fingerprint`` from
    :mod:`tfcanary.fingerprint`, ``frame`` the first frame inside the case file
    (``control_flow.py:42 in call``).  For ``skip``, ``crash`` and ``timeout``,
    ``reason`` says why.  ``duration_s`` is wall time of building and running
    the mode.  ``leaked`` names the global state the item left changed
    (``dtype policy mixed_float16``, ``cwd changed``...; empty when none):
    the probe resets it before the next item, so it is a note about the case,
    not a cause of other outcomes.  ``run`` is the id of the probe run that
    recorded this outcome (the results file's ``runs`` list).

    A test of a team's own suite (variant ``test``) also records the ``phase``
    that decided its outcome (``setup``, ``call``, ``teardown``; ``collect`` for
    a module that did not collect) and, for an ``xfail`` test, ``xfail`` (the
    marker's reason): an expected failure is an ``error`` with it, an
    unexpected pass an ``ok`` with it.
    """

    case: str
    variant: str
    mode: str
    status: Status
    exc_type: Optional[str] = None
    message: Optional[str] = None
    normalized: Optional[str] = None
    fingerprint: Optional[str] = None
    frame: Optional[str] = None
    reason: Optional[str] = None
    duration_s: Optional[float] = None
    leaked: Tuple[str, ...] = ()
    run: Optional[int] = None
    phase: Optional[str] = None
    xfail: Optional[str] = None

    @property
    def key(self) -> tuple:
        return (self.case, self.variant, self.mode)

    @property
    def short_type(self) -> Optional[str]:
        return None if self.exc_type is None else self.exc_type.rsplit(".", 1)[-1]

    def to_dict(self) -> Dict[str, Any]:
        """The outcome as results files hold it: fields that are not set are left out
        (``duration_s`` is kept, ``null`` for a crash or a timeout)."""
        d: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "status":
                value = Status(value).value
            elif f.name == "leaked":
                value = list(value)
            if value is None and f.name != "duration_s" or value == [] and f.name == "leaked":
                continue
            d[f.name] = value
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Outcome":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"Outcome has no fields {sorted(unknown)}. Expected some of {sorted(fields)}.")
        d = dict(d)
        d["status"] = Status(d["status"])
        d["leaked"] = tuple(d.get("leaked") or ())
        return cls(**d)
