"""Outcome records: what happened to one (case, variant, mode) in one environment.

Standard library only: the probe builds these inside each TensorFlow environment.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict, Optional


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
    the mode.
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
    duration_s: float = 0.0

    @property
    def key(self) -> tuple:
        return (self.case, self.variant, self.mode)

    @property
    def short_type(self) -> Optional[str]:
        return None if self.exc_type is None else self.exc_type.rsplit(".", 1)[-1]

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Outcome":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"Outcome has no fields {sorted(unknown)}. Expected some of {sorted(fields)}.")
        d = dict(d)
        d["status"] = Status(d["status"])
        return cls(**d)
