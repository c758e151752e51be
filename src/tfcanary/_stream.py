"""The timer's supervisor: one worker at a time, reporting through a stream file.

The timer (:mod:`tfcanary._timer`) runs each round's items in a fresh worker
process that appends ``start`` and result events (JSON lines) to a stream
file; this supervisor reads the stream, restarts the worker after a crash or
a hang and records those as the item's outcome.  The probe has its own
supervisor (:mod:`tfcanary._supervisor`, several workers over pipes); the
timer keeps one worker so that timings are not disturbed by a neighbour.

Standard library only: it runs inside each TensorFlow environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from tfcanary._supervisor import _fatal_lines, _signal_name

def _log_tail(log_path: Path, limit: int = 20) -> List[str]:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return lines[-limit:]


class Supervisor:
    """Runs the plan in worker processes, restarting after crashes and hangs."""

    def __init__(self, plan_path: Path, n_items: int, workdir: Path, timeout: float,
                 startup_timeout: float, poll: float = 0.05, *,
                 worker: Path) -> None:
        self.worker = worker   # the script run as `python WORKER --worker --plan ... --stream ...`
        self.plan_path = plan_path
        self.n = n_items
        self.workdir = workdir
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.poll = poll
        self.outcomes: Dict[int, Dict[str, Any]] = {}
        self.meta: Optional[Dict[str, Any]] = None
        self.restarts = 0
        self.log_path = workdir / "worker.log"

    def _spawn(self, start: int, stream: Path) -> subprocess.Popen:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("PYTHONHASHSEED", "0")
        log = open(self.log_path, "a", encoding="utf-8")
        try:
            return subprocess.Popen(
                [sys.executable, str(self.worker), "--worker", "--plan", str(self.plan_path),
                 "--stream", str(stream), "--start", str(start)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        finally:
            log.close()

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def run(self, items: List[List[str]]) -> None:
        start = 0
        failed_starts = 0
        while start < self.n:
            stream = self.workdir / f"stream-{start}.jsonl"
            stream.touch()
            proc = self._spawn(start, stream)
            started_at = time.monotonic()
            current: Optional[int] = None
            current_since = 0.0
            heard = False
            pos = 0
            buf = ""
            finished = False
            while True:
                with open(stream, encoding="utf-8") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
                buf += chunk
                *lines, buf = buf.split("\n")
                for line in lines:
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    kind = ev["event"]
                    heard = True
                    if kind == "meta":
                        self.meta = ev
                    elif kind == "start":
                        current, current_since = ev["i"], time.monotonic()
                    elif kind == "outcome":
                        self.outcomes[ev["i"]] = ev["outcome"]
                        current = None
                        start = ev["i"] + 1
                    elif kind == "done":
                        finished = True
                if finished:
                    proc.wait()
                    return
                rc = proc.poll()
                if rc is not None and not chunk:
                    # Died without "done": the item in flight crashed it.
                    self._record_death(items, current, rc)
                    if current is None:
                        failed_starts += 1
                        if failed_starts >= 2:
                            tail = "\n".join(_log_tail(self.log_path))
                            self._fail_rest(items, start,
                                            f"worker could not start: {_signal_name(rc)}\n{tail}")
                            return
                    else:
                        failed_starts = 0
                        start = current + 1
                    break
                now = time.monotonic()
                if current is not None and now - current_since > self.timeout:
                    self._kill(proc)
                    self._record(items, current, "timeout",
                                 f"no result after {self.timeout:g} s; the worker was killed")
                    start = current + 1
                    break
                if not heard and now - started_at > self.startup_timeout:
                    self._kill(proc)
                    self._fail_rest(items, start, f"worker did not start within {self.startup_timeout:g} s")
                    return
                time.sleep(self.poll)
            self.restarts += 1

    def _record(self, items: List[List[str]], i: int, status: str, reason: str) -> None:
        case, variant, mode = items[i]
        self.outcomes[i] = {"case": case, "variant": variant, "mode": mode, "status": status,
                            "reason": reason, "duration_s": None}

    def _record_death(self, items: List[List[str]], current: Optional[int], rc: int) -> None:
        if current is None:
            return
        fatal = _fatal_lines(self.log_path)
        reason = f"the worker died: {_signal_name(rc)}"
        if fatal:
            reason += "\n" + "\n".join(fatal)
        self._record(items, current, "crash", reason)

    def _fail_rest(self, items: List[List[str]], start: int, reason: str) -> None:
        for i in range(start, self.n):
            if i not in self.outcomes:
                self._record(items, i, "crash", reason)


