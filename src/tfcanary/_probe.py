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
import shutil
import signal
import subprocess
import sys
import tempfile
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


class Supervisor:
    """Runs the plan in worker processes, restarting after crashes and hangs."""

    def __init__(self, plan_path: Path, n_items: int, workdir: Path, timeout: float,
                 startup_timeout: float, poll: float = 0.05) -> None:
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
                [sys.executable, str(WORKER), "--plan", str(self.plan_path),
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


def probe(cases: List[str], label: str, out: Path, env: Optional[Dict[str, Any]] = None,
          install: Optional[Dict[str, Any]] = None, select: List[str] = (),
          timeout: float = 120.0, startup_timeout: float = 300.0) -> Dict[str, Any]:
    """Probe the corpus in this interpreter's environment and write ``out``."""
    t0 = time.perf_counter()
    corpus = _corpus.load(cases).select(list(select))
    items = plan_items(corpus)
    workdir = Path(tempfile.mkdtemp(prefix="tfcanary-probe-"))
    try:
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps({"cases": [str(Path(c).resolve()) for c in cases],
                                         "items": items}), encoding="utf-8")
        sup = Supervisor(plan_path, len(items), workdir, timeout, startup_timeout)
        sup.run(items)
        worker_tail = _log_tail(sup.log_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    outcomes = []
    corpus_errors = [e.to_dict() for e in corpus.errors]
    for i in range(len(items)):
        rec = dict(sup.outcomes[i])
        err = rec.pop("corpus_error", None)
        if err is not None:
            if err not in corpus_errors:
                corpus_errors.append(err)
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
                   "worker_restarts": sup.restarts},
        "cases": [c.describe() for c in corpus.cases],
        "corpus_errors": corpus_errors,
        "outcomes": outcomes,
    }
    if status == "probe-failed":
        doc["message"] = "\n".join(worker_tail) or "the worker never reported"
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
    ap.add_argument("--select", action="append", default=[], help="case id/family/tag pattern (repeatable)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per (case, variant, mode)")
    ap.add_argument("--startup-timeout", type=float, default=300.0, help="seconds for the worker to import TensorFlow")
    args = ap.parse_args(argv)
    doc = probe(args.cases, args.label, args.out,
                env=json.loads(args.env_json) if args.env_json else None,
                install=json.loads(args.install_json) if args.install_json else None,
                select=args.select, timeout=args.timeout, startup_timeout=args.startup_timeout)
    print(f"{args.label}: {len(doc['outcomes'])} outcomes {status_counts(doc['outcomes'])}"
          f"; {len(doc['corpus_errors'])} corpus errors; wrote {args.out}")
    return 0 if doc["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
