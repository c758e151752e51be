"""Workers and their supervisor: a crash or a hang costs one item, never the run.

One supervisor serves every engine tool: the probe runs ``jobs`` workers at
once, the timer and a test suite one (so that no neighbour disturbs the
timings, and a suite's fixtures are shared as pytest shares them).  Each
worker is a process of its own group, started from ``worker_cmd`` (``main.py
probe-worker ...``) and spoken to by the protocol of :mod:`.worker`: an
assignment per line on its stdin, events as JSON lines on a pipe (``meta``,
``ready``, then per item ``start`` and ``outcome``).  A free worker gets the
next item at once; outcomes are kept by item index, so they come out in plan
order whatever ran where.  When the items are not known beforehand (a test
suite: pytest collects them), the first worker announces them in a ``plan``
event before it is ready.

- An item that kills its worker (segfault, abort, ``os._exit``) is a ``crash``
  outcome with the signal and the fatal lines of the worker's log; one that
  runs past ``timeout`` is a ``timeout`` (the worker's whole process group is
  killed).  A fresh worker takes the next item.
- A worker that dies before it began an item (while starting, or before it
  read its assignment) costs no item: the item goes back to the queue and a
  fresh worker is started; twice in a row and every item left is a ``crash``
  saying that the worker could not start, with its log.  A worker that does not report ready within
  ``startup_timeout`` ends the run the same way.
- SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the supervisor
  (:func:`interrupt` is the handler), whose cleanup (:meth:`Supervisor.close`)
  kills every worker's group; a supervisor killed outright takes its workers
  with it through ``PR_SET_PDEATHSIG`` (:func:`die_with_parent`, called by
  each worker).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select as _select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from tfcanary.outcome import Outcome, Status

FATAL_MARKERS = ("Fatal Python error", "Segmentation fault", "Check failed", "Aborted",
                 "terminate called", "F0000", "core dumped", "Killed")

# notify(event, item index, outcome or None): "start" when a worker takes an item,
# "outcome" when its outcome is known (recorded by the worker, or a crash or timeout).
Notify = Callable[[str, int, Optional[Dict[str, Any]]], None]


def signal_name(returncode: int) -> str:
    """``SIGSEGV (-11)`` for a process killed by a signal, ``exit code 3`` otherwise."""
    if returncode < 0:
        try:
            return f"{signal.Signals(-returncode).name} ({returncode})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def log_tail(log_path: Path, limit: int = 20) -> List[str]:
    """The last ``limit`` lines of a worker's log (empty when there is none)."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return lines[-limit:]


def fatal_lines(log_path: Path, limit: int = 8) -> List[str]:
    """The log lines that say why a process died (``Fatal Python error``, ``Check failed``...)."""
    keep = [ln.strip() for ln in log_tail(log_path, limit=10_000) if any(m in ln for m in FATAL_MARKERS)]
    return keep[-limit:]


class Interrupted(Exception):
    """The supervisor got SIGINT, SIGTERM or SIGHUP: workers killed, results left as they were."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupt(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_interrupts(cleanup: Callable[[], None]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` inside the block; ``cleanup``
    runs after it whatever happened, with those signals ignored (a second Ctrl-C must not
    interrupt it), then the earlier handlers come back.  Outside the main thread, where
    handlers cannot be set, only ``cleanup`` is guaranteed."""
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig in handlers:
            signal.signal(sig, signal.SIG_IGN)
        try:
            cleanup()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


def order_items(n: int, shuffle: Optional[int]) -> List[int]:
    """The order items run in: the plan's, or a permutation seeded by ``shuffle``."""
    order = list(range(n))
    if shuffle is not None:
        random.Random(shuffle).shuffle(order)
    return order


def sweep_stale(tmp: Optional[str] = None) -> None:
    """Remove ``tfcanary-probe-<pid>-*`` folders whose supervisor is gone
    (one killed by SIGKILL cannot clean up after itself)."""
    for d in Path(tmp or tempfile.gettempdir()).glob("tfcanary-probe-*-*"):
        try:
            pid = int(d.name.split("-")[2])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            pass


class _Worker:
    """One worker process, its event pipe and the item it is running."""

    def __init__(self, proc: subprocess.Popen, fd: int, items_dir: Path, log: Path) -> None:
        self.proc, self.fd, self.items_dir, self.log = proc, fd, items_dir, log
        self.started = time.monotonic()
        self.ready = False
        self.collecting: Optional[str] = None   # what it was collecting, before it announced a plan
        self.current: Optional[int] = None
        self.begun = False          # the worker said "start" for its current item
        self.since = 0.0
        self.buf = b""

    def send(self, line: str) -> bool:
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def close_input(self) -> None:
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


class Supervisor:
    """Runs ``items`` in up to ``jobs`` worker processes, replacing any that crash or hang.

    ``worker_cmd`` starts one worker; the supervisor adds ``--events-fd``,
    ``--items-dir``, ``--parent`` and, until some worker has sent it,
    ``--meta`` (report the environment's metadata first).  Items go to
    whichever worker is free next, in ``order``; :attr:`outcomes` maps item
    index to outcome dict.  ``items=None``: the first worker announces them
    (``plan`` event: :attr:`plan` holds it whole), and they run in that order.
    Each worker has its own log and items folder under ``workdir`` (also its
    ``TMPDIR``) and runs in ``cwd`` (default: its items folder); :meth:`close`
    kills every group and removes the folders.
    """

    def __init__(self, worker_cmd: Sequence[str], items: Optional[List[List[str]]], workdir: Path,
                 timeout: float, startup_timeout: float, jobs: int = 1,
                 order: Optional[List[int]] = None, poll: float = 0.1,
                 env: Optional[Dict[str, str]] = None, notify: Optional[Notify] = None,
                 cwd: Optional[Path] = None) -> None:
        self.worker_cmd = list(worker_cmd)
        self.items = items
        self.n = len(items) if items is not None else 0
        self.plan: Optional[Dict[str, Any]] = None
        self.cwd = cwd
        self.workdir = workdir
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.jobs = max(1, jobs) if items is not None else 1
        self.order = list(range(self.n)) if order is None else order
        self.poll = poll
        self.env = env
        self.notify = notify
        self.outcomes: Dict[int, Dict[str, Any]] = {}
        self.meta: Optional[Dict[str, Any]] = None
        self.restarts = 0
        self.spawned = 0
        self.workers: List[_Worker] = []
        self.log_path = workdir / "worker-0.log"  # the log worth showing: the latest one that failed
        self.failure: Optional[str] = None       # why the items left were failed, when they were
        self.died_collecting: Optional[str] = None   # what the last worker that died was collecting

    def _spawn(self) -> _Worker:
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("PYTHONHASHSEED", "0")
        k = self.spawned
        self.spawned += 1
        items_dir = self.workdir / f"items-{k}"
        items_dir.mkdir()
        # The worker's temporary folder is its items folder: the item folders,
        # AutoGraph's generated modules and a case's scratch files all go with it.
        env["TMPDIR"] = str(items_dir)
        log_path = self.workdir / f"worker-{k}.log"
        r, w = os.pipe()
        cmd = self.worker_cmd + ["--events-fd", str(w), "--items-dir", str(items_dir),
                                 "--parent", str(os.getpid())]
        if self.meta is None:
            cmd.append("--meta")
        try:
            with open(log_path, "a", encoding="utf-8") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, cwd=self.cwd or items_dir, pass_fds=(w,),
                                        start_new_session=True)
        finally:
            os.close(w)
        worker = _Worker(proc, r, items_dir, log_path)
        self.workers.append(worker)
        return worker

    def _retire(self, w: _Worker, kill: bool) -> None:
        if kill:
            try:
                os.killpg(w.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        w.close_input()
        w.proc.wait()
        try:
            os.close(w.fd)
        except OSError:  # closed already by a cleanup that was interrupted
            pass
        shutil.rmtree(w.items_dir, ignore_errors=True)
        if w in self.workers:
            self.workers.remove(w)

    def close(self) -> None:
        """Kill every worker left (their whole process groups) and remove their folders."""
        for w in list(self.workers):
            self._retire(w, kill=True)

    def _assign(self, w: _Worker, queue: List[int]) -> None:
        if not queue:
            w.close_input()
            return
        i = queue.pop(0)
        w.current, w.since, w.begun = i, time.monotonic(), False
        # "key" is the item itself (a restarted worker finds it by name); "next" is the item
        # this worker is likely to run after this one (the next in the queue): a pytest
        # worker tears down module fixtures by it.  If the worker died, its end of file
        # comes next and the item goes back to the queue or is recorded as a crash.
        nxt = queue[0] if queue else None
        w.send(json.dumps({"i": i, "key": self.items[i], "next": nxt,
                           "next_key": None if nxt is None else self.items[nxt]}) + "\n")
        if self.notify:
            self.notify("start", i, None)

    def run(self) -> None:
        """Run every item; when this returns, :attr:`outcomes` has one per item."""
        queue = list(self.order)
        failed_starts = 0
        while queue or any(w.current is not None for w in self.workers) or self.items is None:
            want = 1 if self.items is None else min(
                self.jobs, len(queue) + sum(w.current is not None for w in self.workers))
            while len(self.workers) < want:
                self._spawn()
            ready, _, _ = _select.select([w.fd for w in self.workers], [], [], self.poll)
            for w in [w for w in self.workers if w.fd in ready]:
                chunk = os.read(w.fd, 1 << 16)
                w.buf += chunk
                *lines, w.buf = w.buf.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._event(w, json.loads(line), queue)
                if not chunk:  # the worker ended: done, or died
                    rc = w.proc.wait()
                    if w.current is not None and w.begun:
                        self._record_death(w, rc)
                        self.restarts += 1
                        failed_starts = 0
                    elif w.current is not None or not w.ready:
                        if self.items is None and w.collecting:
                            self.died_collecting = w.collecting
                        # Died before it began an item (while starting, or before reading its
                        # assignment): the item goes back to the queue, not charged a crash.
                        if w.current is not None:
                            queue.insert(0, w.current)
                            w.current = None
                        failed_starts += 1
                        self.log_path = w.log
                        if failed_starts >= 2:
                            tail = "\n".join(log_tail(w.log))
                            self._retire(w, kill=True)
                            if w.collecting and self.items is None:
                                tail = f"it died while collecting {w.collecting}\n{tail}"
                            self._fail_rest(queue, f"worker could not start: {signal_name(rc)}\n{tail}")
                            return
                    self._retire(w, kill=True)
            now = time.monotonic()
            for w in list(self.workers):
                if w.current is not None and now - w.since > self.timeout:
                    self._record(w.current, Status.TIMEOUT,
                                 f"no result after {self.timeout:g} s; the worker was killed")
                    w.current = None
                    self.restarts += 1
                    self._retire(w, kill=True)
                elif not w.ready and now - w.started > self.startup_timeout:
                    self.log_path = w.log
                    tail = "\n".join(log_tail(w.log))
                    self._retire(w, kill=True)
                    self._fail_rest(queue, f"worker did not start within {self.startup_timeout:g} s\n{tail}")
                    return

    def _event(self, w: _Worker, ev: Dict[str, Any], queue: List[int]) -> None:
        kind = ev.get("event")
        if kind == "meta":
            self.meta = self.meta or ev
        elif kind == "collecting":
            w.collecting = ev.get("name")
        elif kind == "plan":
            if self.items is None:
                self.plan = ev
                self.items = [list(k) for k in ev["items"]]
                self.n = len(self.items)
                self.order = list(range(self.n))
                queue.extend(self.order)
        elif kind == "ready":
            w.ready = True
            self._assign(w, queue)
        elif kind == "start":
            w.since, w.begun = time.monotonic(), True
        elif kind == "outcome":
            self.outcomes[ev["i"]] = ev["outcome"]
            w.current = None
            if self.notify:
                self.notify("outcome", ev["i"], ev["outcome"])
            self._assign(w, queue)

    def _record(self, i: int, status: Status, reason: str) -> None:
        case, variant, mode = self.items[i]
        self.outcomes[i] = Outcome(case, variant, mode, status, reason=reason).to_dict()
        if self.notify:
            self.notify("outcome", i, self.outcomes[i])

    def _record_death(self, w: _Worker, rc: int) -> None:
        fatal = fatal_lines(w.log)
        reason = f"the worker died: {signal_name(rc)}"
        if fatal:
            reason += "\n" + "\n".join(fatal)
        self._record(w.current, Status.CRASH, reason)
        w.current = None

    def _fail_rest(self, queue: List[int], reason: str) -> None:
        self.close()
        self.failure = reason
        if self.items is None:          # nothing was announced: nothing to record, the reason stays
            self.items = []
        for i in range(self.n):
            if i not in self.outcomes:
                self._record(i, Status.CRASH, reason)
        queue.clear()


def die_with_parent(parent: int) -> None:
    """End this process when the supervisor ``parent`` dies, even mid-item.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, which fires even while a case
    spins in C code.  Elsewhere a daemon thread polls the parent's pid.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # died before prctl took effect
        os._exit(1)
    if not armed:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="tfcanary-parent-watch", daemon=True).start()
