"""The corpus scan's child: import case modules one by one and report each one.

Started by :func:`tfcanary.corpus.scan` as ``main.py corpus-scan --events-fd N
--plan JSON`` (the plan: the corpus folders, and ``[index, file]`` per module),
in a session of its own.  For each module it writes JSON lines to the pipe
``N``: ``start`` (before the import), then ``module`` with the cases it
declares (their metadata, as results record it) and its corpus errors, and
``done`` at the end.  A module that calls ``os._exit`` is reported (``exit``,
with the line) before the process ends; one that ends it by a fatal signal, or
hangs until the parent sends ``SIGUSR1``, leaves a traceback in the log
(faulthandler) from which the parent reads the line.

Standard library only.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from tfcanary import corpus as _corpus


def _describe(case: Any) -> Dict[str, Any]:
    return {**case.describe(), "path": case.file}


def _line(frame: Any, file: str) -> Optional[int]:
    """The line of the innermost frame, from ``frame`` outwards, that runs in ``file``."""
    while frame is not None:
        if os.path.realpath(frame.f_code.co_filename) == file:
            return frame.f_lineno
        frame = frame.f_back
    return None


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="main.py corpus-scan", description=__doc__.split("\n\n")[0])
    ap.add_argument("--events-fd", type=int, required=True, help="pipe to write JSON-line events to")
    ap.add_argument("--plan", required=True, help="JSON: {roots: [folder], files: [[index, file]]}")
    args = ap.parse_args(argv)
    plan = json.loads(args.plan)
    events = os.fdopen(args.events_fd, "w", encoding="utf-8")

    def emit(event: Dict[str, Any]) -> None:
        events.write(json.dumps(event) + "\n")
        events.flush()

    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    _corpus.register_roots(plan["roots"])
    files = [(int(i), Path(f)) for i, f in plan["files"]]
    current: Dict[str, Any] = {}
    real_exit = os._exit

    def exit_reported(code: int = 0) -> None:   # os._exit, as a case module calls it
        emit({"event": "exit", "i": current.get("i"), "code": code,
              "line": _line(sys._getframe(1), current.get("file", ""))})
        real_exit(code)

    os._exit = exit_reported
    with _corpus.importable([f for _, f in files]):
        for index, file in files:
            current.update(i=index, file=str(file))
            emit({"event": "start", "i": index})
            cases, errors = _corpus.load_module(file, index)
            try:
                described = [_describe(c) for c in cases]
                json.dumps(described)
            except (TypeError, ValueError) as exc:   # a declaration whose metadata is not plain data
                described, errors = [], [_corpus.CorpusError(
                    _corpus.display_path(str(file)), 1, f"case metadata cannot be recorded: {exc}")]
            emit({"event": "module", "i": index, "cases": described,
                  "errors": [e.to_dict() for e in errors], "failed": bool(errors) and not cases})
    emit({"event": "done"})
    events.close()
    return 0
