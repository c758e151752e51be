"""The probe: drive the corpus through every mode inside one environment.

Run by path with the environment's own interpreter; it needs nothing from the
host environment, only the standard library, the tfcanary sources beside it
and the environment's TensorFlow::

    .nox/tf2-15/bin/python src/tfcanary/_probe.py --cases cases \\
        --label tf2.15 --out results/tf2.15.json

It plans every (case, variant, mode), runs them in a worker process
(:mod:`tfcanary._worker`) and watches it: an item that kills the worker
(segfault, abort) is recorded as ``crash``, one that runs past ``--timeout``
as ``timeout``; a fresh worker then goes on with the next item.  The results
file is written atomically at the end.
"""

from __future__ import annotations

import argparse
import datetime as _dt
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
from typing import Any, Dict, List, Optional


def _bootstrap() -> None:
    src = str(Path(__file__).resolve().parent.parent)
    if src not in sys.path:
        sys.path.insert(0, src)


_bootstrap()

from tfcanary import corpus as _corpus  # noqa: E402
from tfcanary import results as _results  # noqa: E402
from tfcanary import _worker  # noqa: E402
from tfcanary.errors import UserError  # noqa: E402

WORKER = Path(__file__).resolve().parent / "_worker.py"
FATAL_MARKERS = ("Fatal Python error", "Segmentation fault", "Check failed", "Aborted",
                 "terminate called", "F0000", "core dumped", "Killed")


def plan_items(corpus: _corpus.Corpus) -> List[List[str]]:
    items = []
    for c in corpus.cases:
        for variant in ("broken", "fixed"):
            if variant in c.variants:
                for mode in c.modes:
                    items.append([c.id, variant, mode])
    return items


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"{signal.Signals(-returncode).name} ({returncode})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _log_tail(log_path: Path, limit: int = 20) -> List[str]:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return lines[-limit:]


def _fatal_lines(log_path: Path, limit: int = 8) -> List[str]:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    keep = [ln.strip() for ln in lines if any(m in ln for m in FATAL_MARKERS)]
    return keep[-limit:]


class Interrupted(Exception):
    """The supervisor got SIGINT, SIGTERM or SIGHUP: workers killed, results left as they were."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


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
        self.current: Optional[int] = None
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
    """Runs the plan in ``jobs`` worker processes, replacing any that crash or hang.

    Items go to whichever worker is free next, in ``order``; outcomes are kept
    by item index, so results come out in plan order whatever ran where.
    Each worker runs in its own process group with its own log and items
    folder; :meth:`close` kills every group and removes the folders.
    """

    def __init__(self, plan_path: Path, items: List[List[str]], workdir: Path, timeout: float,
                 startup_timeout: float, jobs: int = 1, order: Optional[List[int]] = None,
                 poll: float = 0.1) -> None:
        self.plan_path = plan_path
        self.items = items
        self.n = len(items)
        self.workdir = workdir
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.jobs = max(1, jobs)
        self.order = list(range(self.n)) if order is None else order
        self.poll = poll
        self.outcomes: Dict[int, Dict[str, Any]] = {}
        self.meta: Optional[Dict[str, Any]] = None
        self.restarts = 0
        self.spawned = 0
        self.workers: List[_Worker] = []
        self.log_path = workdir / "worker-0.log"  # the latest worker's log

    def _spawn(self) -> _Worker:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("PYTHONHASHSEED", "0")
        k = self.spawned
        self.spawned += 1
        items_dir = self.workdir / f"items-{k}"
        items_dir.mkdir()
        self.log_path = self.workdir / f"worker-{k}.log"
        r, w = os.pipe()
        cmd = [sys.executable, str(WORKER), "--plan", str(self.plan_path), "--events-fd", str(w),
               "--items-dir", str(items_dir), "--parent", str(os.getpid())]
        if self.meta is None:
            cmd.append("--meta")
        try:
            with open(self.log_path, "a", encoding="utf-8") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                        env=env, cwd=items_dir, pass_fds=(w,), start_new_session=True)
        finally:
            os.close(w)
        worker = _Worker(proc, r, items_dir, self.log_path)
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
        os.close(w.fd)
        shutil.rmtree(w.items_dir, ignore_errors=True)
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
        w.current, w.since = i, time.monotonic()
        if not w.send(f"{i}\n"):
            pass  # it died; its end of file comes next and records the item as a crash

    def run(self) -> None:
        queue = list(self.order)
        failed_starts = 0
        while queue or any(w.current is not None for w in self.workers):
            want = min(self.jobs, len(queue) + sum(w.current is not None for w in self.workers))
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
                    if w.current is not None:
                        self._record_death(w, rc)
                        self.restarts += 1
                    elif not w.ready:
                        failed_starts += 1
                        if failed_starts >= 2:
                            tail = "\n".join(_log_tail(w.log))
                            self._retire(w, kill=True)
                            self._fail_rest(queue, f"worker could not start: {_signal_name(rc)}\n{tail}")
                            return
                    if w.ready:
                        failed_starts = 0
                    self._retire(w, kill=True)
            now = time.monotonic()
            for w in list(self.workers):
                if w.current is not None and now - w.since > self.timeout:
                    self._record(w.current, "timeout", f"no result after {self.timeout:g} s; the worker was killed")
                    self.restarts += 1
                    self._retire(w, kill=True)
                elif not w.ready and now - w.started > self.startup_timeout:
                    self._retire(w, kill=True)
                    self._fail_rest(queue, f"worker did not start within {self.startup_timeout:g} s")
                    return

    def _event(self, w: _Worker, ev: Dict[str, Any], queue: List[int]) -> None:
        kind = ev["event"]
        if kind == "meta":
            self.meta = self.meta or ev
        elif kind == "ready":
            w.ready = True
            self._assign(w, queue)
        elif kind == "start":
            w.since = time.monotonic()
        elif kind == "outcome":
            self.outcomes[ev["i"]] = ev["outcome"]
            w.current = None
            self._assign(w, queue)

    def _record(self, i: int, status: str, reason: str) -> None:
        case, variant, mode = self.items[i]
        self.outcomes[i] = {"case": case, "variant": variant, "mode": mode, "status": status,
                            "reason": reason, "duration_s": None}

    def _record_death(self, w: _Worker, rc: int) -> None:
        fatal = _fatal_lines(w.log)
        reason = f"the worker died: {_signal_name(rc)}"
        if fatal:
            reason += "\n" + "\n".join(fatal)
        self._record(w.current, "crash", reason)
        w.current = None

    def _fail_rest(self, queue: List[int], reason: str) -> None:
        self.close()
        for i in range(self.n):
            if i not in self.outcomes:
                self._record(i, "crash", reason)
        queue.clear()


def default_jobs() -> int:
    """Workers per environment: one per CPU this process may use, at most 2."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _check_selection(full: _corpus.Corpus, select: List[str], cases: List[str], out: Path) -> None:
    unmatched = [p for p in select if not full.select([p]).cases]
    if unmatched:
        raise UserError(
            f"Expected --select patterns matching a case id, family or tag of the corpus "
            f"({', '.join(cases)}). Received: {', '.join(repr(p) for p in unmatched)}, which match "
            f"nothing. Nothing was probed; {out} is left as it was. `python -m tfcanary list` lists the cases.")


def _earlier(out: Path, select: List[str]) -> Optional[Dict[str, Any]]:
    """The results a ``--select`` run merges into, after checking that they were
    probed with the same packages; ``None`` when there is nothing to merge."""
    if not select or not out.exists():
        return None
    try:
        old = _results.read(out)
    except _results.ResultsError as exc:
        raise UserError(f"{exc}. A --select run merges into the existing results file and cannot "
                        f"read this one; move it away or probe without --select.") from None
    if old.get("status") != "ok":
        return None  # an install or probe failure has no outcomes worth keeping
    changes = _results.package_changes(old, _worker.pip_freeze())
    if changes:
        raise UserError(
            f"{out} holds outcomes probed with other package versions ({'; '.join(changes)}). "
            f"A --select run merges only into results of the same versions: probe without "
            f"--select to replace the file, or write elsewhere with --out. Nothing was probed.")
    return old


def probe(cases: List[str], label: str, out: Path, env: Optional[Dict[str, Any]] = None,
          install: Optional[Dict[str, Any]] = None, select: List[str] = (),
          timeout: float = 120.0, startup_timeout: float = 300.0, jobs: Optional[int] = None,
          shuffle: Optional[int] = None) -> Dict[str, Any]:
    """Probe the corpus in this interpreter's environment and write ``out``.

    Without ``select`` the file is replaced.  With it, the run is merged into
    an existing ``out`` (:func:`tfcanary.results.merge`): the selected cases'
    outcomes are replaced, the others kept with the run that recorded them.
    Merging refuses (:class:`UserError`, ``out`` untouched) when ``out`` was
    probed with other package versions than this environment has now: one file
    never mixes versions.  A pattern matching no case is a :class:`UserError` too.
    """
    t0 = time.perf_counter()
    select = list(select)
    out = Path(out)
    jobs = default_jobs() if jobs is None else jobs
    full = _corpus.load(cases)
    _check_selection(full, select, cases, out)
    old = _earlier(out, select)
    corpus = full.select(select)
    items = plan_items(corpus)
    sweep_stale()
    workdir = Path(tempfile.mkdtemp(prefix=f"tfcanary-probe-{os.getpid()}-"))
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            handlers[sig] = signal.signal(sig, _interrupt)
    sup = Supervisor(workdir / "plan.json", items, workdir, timeout, startup_timeout, jobs=jobs,
                     order=order_items(len(items), shuffle))
    try:
        sup.plan_path.write_text(json.dumps({"cases": [str(Path(c).resolve()) for c in cases],
                                             "items": items}), encoding="utf-8")
        sup.run()
        worker_tail = _log_tail(sup.log_path)
    finally:
        sup.close()
        shutil.rmtree(workdir, ignore_errors=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    outcomes = []
    corpus_errors = [e.to_dict() for e in full.errors]
    for i in range(len(items)):
        rec = dict(sup.outcomes[i])
        err = rec.pop("corpus_error", None)
        if err is not None:
            if err not in corpus_errors:
                corpus_errors.append(err)
        rec["run"] = 1
        outcomes.append(rec)
    meta = dict((sup.meta or {}).get("metadata") or {})
    meta["date"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta["released"] = (env or {}).get("released")
    status = "ok" if sup.meta is not None else "probe-failed"
    doc = {
        "label": label,
        "status": status,
        "env": env or {"label": label},
        "install": install or {},
        "metadata": meta,
        "timing": {"import_s": (sup.meta or {}).get("import_s"),
                   "probe_s": round(time.perf_counter() - t0, 2),
                   "worker_restarts": sup.restarts, "jobs": jobs},
        "runs": [{"id": 1, "date": meta["date"], "select": select, "shuffle": shuffle,
                  "jobs": jobs, "outcomes": len(outcomes)}],
        "cases": [c.describe() for c in corpus.cases],
        "corpus_errors": corpus_errors,
        "outcomes": outcomes,
    }
    if status == "probe-failed":
        doc["message"] = "\n".join(worker_tail) or "the worker never reported"
    if old is not None:
        doc = _results.merge(old, doc, [c.id for c in corpus.cases], plan_items(full))
    _results.write(out, doc)
    return doc


def status_counts(records: List[Dict[str, Any]]) -> str:
    """``error=3 ok=12``: how many records have each status, for a closing line."""
    counts: Dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items()))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", action="append", required=True, help="case folder or file (repeatable)")
    ap.add_argument("--label", required=True, help="the environment's label, e.g. tf2.15")
    ap.add_argument("--out", required=True, type=Path, help="results file to write")
    ap.add_argument("--env-json", default=None, help="the matrix entry, as JSON")
    ap.add_argument("--install-json", default=None, help="how the environment was installed, as JSON")
    ap.add_argument("--select", action="append", default=[],
                    help="case id/family/tag pattern (repeatable); merges into an existing --out")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per (case, variant, mode)")
    ap.add_argument("--startup-timeout", type=float, default=300.0, help="seconds for the worker to import TensorFlow")
    ap.add_argument("--jobs", type=int, default=None,
                    help=f"worker processes (default: CPUs available, at most 2; here {default_jobs()})")
    ap.add_argument("--shuffle", type=int, default=None, metavar="SEED",
                    help="run the items in a random order seeded by SEED (results keep the plan's order)")
    args = ap.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        ap.error(f"expected --jobs 1 or more. Received: --jobs {args.jobs}")
    try:
        doc = probe(args.cases, args.label, args.out,
                    env=json.loads(args.env_json) if args.env_json else None,
                    install=json.loads(args.install_json) if args.install_json else None,
                    select=args.select, timeout=args.timeout, startup_timeout=args.startup_timeout,
                    jobs=args.jobs, shuffle=args.shuffle)
    except UserError as exc:
        print(f"tfcanary: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"{args.label}: interrupted by {exc}; workers stopped, {args.out} left as it was",
              file=sys.stderr)
        return 128 + exc.signum
    print(f"{args.label}: {len(doc['outcomes'])} outcomes {status_counts(doc['outcomes'])}"
          f"; {len(doc['corpus_errors'])} corpus errors; wrote {args.out}")
    for err in doc["corpus_errors"]:
        print(f"  corpus error: {err['file']}:{err['line']}: {err['message']}", file=sys.stderr)
    return 0 if doc["status"] == "ok" and not doc["corpus_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
