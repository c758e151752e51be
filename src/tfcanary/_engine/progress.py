"""Progress while a corpus or a suite runs: items done / total, the current one, the time.

On a terminal one line updates in place (``\\r``); elsewhere (a CI log) a plain
line is written every :data:`EVERY_S` seconds and at the end, plus one for each
crash or timeout as it happens.  It goes to stderr, so the results and the
summary on stdout stay clean.  Used as the supervisor's ``notify``.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Dict, Optional

EVERY_S = 10.0


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class Progress:
    """``notify`` for a :class:`tfcanary._engine.supervise.Supervisor` (it reads the supervisor's
    items and their count, which a suite learns only once collected)."""

    def __init__(self, supervisor: Any, noun: str = "items", enabled: bool = True,
                 stream: Optional[IO[str]] = None, tty: Optional[bool] = None) -> None:
        self.sup, self.noun, self.enabled = supervisor, noun, enabled
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.t0 = time.monotonic()
        self.done = 0
        self.current = ""
        self.last_line = 0.0
        self.width = 0

    def _name(self, i: int) -> str:
        key = self.sup.items[i] if self.sup.items else [str(i)]
        return key[0] if key[1:] in (["test", "pytest"],) else "/".join(key)

    def __call__(self, event: str, i: int, outcome: Optional[Dict[str, Any]]) -> None:
        if not self.enabled:
            return
        if event == "start":
            self.current = self._name(i)
        else:
            self.done += 1
            status = (outcome or {}).get("status")
            if status in ("crash", "timeout"):
                self._line(f"{status}: {self._name(i)}", force=True)
        self._line(self.current)

    def _line(self, what: str, force: bool = False) -> None:
        now = time.monotonic()
        text = f"[{self.done}/{self.sup.n} {self.noun}, {_clock(now - self.t0)}] {what}"
        if self.tty and not force:
            self.width = max(self.width, len(text))
            self.stream.write("\r" + text[:200].ljust(min(self.width, 200)))
            self.stream.flush()
        elif force or now - self.last_line >= EVERY_S:
            if self.tty:
                self.stream.write("\r" + " " * min(self.width, 200) + "\r")
            self.stream.write(text + "\n")
            self.stream.flush()
            self.last_line = now

    def finish(self) -> None:
        """The closing line: how many ran, in how long."""
        if not self.enabled or not self.sup.n:
            return
        if self.tty:
            self.stream.write("\r" + " " * min(self.width, 200) + "\r")
        self.stream.write(f"[{self.done}/{self.sup.n} {self.noun}, {_clock(time.monotonic() - self.t0)}] done\n")
        self.stream.flush()
