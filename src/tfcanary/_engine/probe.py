"""The probe: drive the corpus through every mode inside one environment.

Started in an environment by :func:`tfcanary.envs.launch.launch` (``main.py
probe``); it needs nothing from the host environment, only the standard
library, the engine's copy of tfcanary and the environment's TensorFlow.

It lists the corpus with :func:`tfcanary.corpus.scan` (a case module that hangs or
ends the process at import is a corpus error, not a stuck probe), plans every
(case, variant, mode) and has :mod:`tfcanary._engine.supervise` run
them in ``--jobs`` worker processes (:mod:`tfcanary._engine.worker`), in plan order or
in an order shuffled by ``--shuffle SEED``: an item that kills its worker
(segfault, abort) is recorded as ``crash``, one that runs past ``--timeout``
as ``timeout``; a fresh worker then goes on.  Every item runs in a fresh
temporary working directory after a reset of global state
(:mod:`tfcanary._engine.hermetic`), so the order changes nothing.  The results file
is written atomically at the end, in plan order; with ``--select`` the run is
merged into it (:func:`probe`).  Exit status: 0, 1 when the probe failed or the
corpus has errors (results written), 2 for a usage error (nothing written),
128 + signal number when interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from tfcanary import corpus as _corpus
from tfcanary import results as _results
from tfcanary._engine import metadata
from tfcanary._engine.progress import Progress
from tfcanary._engine.supervise import (Interrupted, Supervisor, handle_interrupts, log_tail, order_items,
                                        sweep_stale)
from tfcanary.errors import UsageError, UserError

MAIN = Path(__file__).resolve().parent / "main.py"


def plan_items(corpus: _corpus.Corpus) -> List[List[str]]:
    items = []
    for c in corpus.cases:
        for variant in ("broken", "fixed"):
            if variant in c.variants:
                for mode in c.modes:
                    items.append([c.id, variant, mode])
    return items


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


def earlier(out: Path, select: Sequence[str], freeze: List[str], *, verb: str = "probe",
            done: str = "probed", keep_without_select: bool = False) -> Optional[Dict[str, Any]]:
    """The results a run merges into, after checking that they were recorded with the same
    packages (``freeze``); ``None`` when there is nothing to merge.

    With ``select`` an unreadable file or one of other packages is a :class:`UsageError`
    (``out`` untouched).  Without, the file is replaced, unless ``keep_without_select``
    (a test suite's run keeps a corpus probed into the same file just before): then it
    is merged into when it is readable and of the same packages.  ``verb`` and ``done``
    name the run in the messages."""
    if not (select or keep_without_select) or not out.exists():
        return None
    try:
        old = _results.read(out)
    except _results.ResultsError as exc:
        if not select:
            return None
        raise UsageError(f"{exc}. A --select run merges into the existing results file and cannot "
                         f"read this one; move it away or {verb} without --select.") from None
    if old.get("status") != "ok":
        return None  # an install or probe failure has no outcomes worth keeping
    changes = _results.package_changes(old, freeze)
    if changes and select:
        raise UsageError(
            f"{out} holds outcomes {done} with other package versions ({'; '.join(changes)}). "
            f"A --select run merges only into results of the same versions: {verb} without "
            f"--select to replace the file, or write elsewhere with --out. Nothing was {done}.")
    return None if changes else old


def probe(cases: List[str], label: str, out: Path, env: Optional[Dict[str, Any]] = None,
          install: Optional[Dict[str, Any]] = None, select: List[str] = (),
          timeout: float = 120.0, startup_timeout: float = 300.0, jobs: Optional[int] = None,
          shuffle: Optional[int] = None, progress: bool = True,
          partial_select: bool = False) -> Dict[str, Any]:
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
    full = _corpus.scan(cases)
    if not partial_select:
        _check_selection(full, select, cases, out)
    old = earlier(out, select, metadata.pip_freeze())
    corpus = full.select(select)
    items = plan_items(corpus)
    sweep_stale()
    workdir = Path(tempfile.mkdtemp(prefix=f"tfcanary-probe-{os.getpid()}-"))
    plan = workdir / "plan.json"
    sup = Supervisor([sys.executable, str(MAIN), "probe-worker", "--plan", str(plan)], items, workdir,
                     timeout, startup_timeout, jobs=jobs, order=order_items(len(items), shuffle))
    sup.notify = Progress(sup, "items", enabled=progress)

    def cleanup() -> None:
        sup.close()
        sup.notify.finish()
        shutil.rmtree(workdir, ignore_errors=True)

    with handle_interrupts(cleanup):
        plan.write_text(json.dumps({"cases": [str(Path(c).resolve()) for c in cases], "items": items,
                                    "modules": full.modules}),
                        encoding="utf-8")
        sup.run()
        worker_tail = log_tail(sup.log_path)
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


def guarded(label: str, out: Path, call: Callable[[], Dict[str, Any]]) -> Tuple[Optional[Dict[str, Any]], int]:
    """``(call(), 0)``; or ``(None, status)`` with the reason on stderr: a refused argument is
    2 (nothing written), an interruption 128 + the signal (workers stopped, ``out`` untouched)."""
    try:
        return call(), 0
    except UserError as exc:
        print(f"tfcanary: error: {exc}", file=sys.stderr)
        return None, 2
    except Interrupted as exc:
        print(f"{label}: interrupted by {exc}; workers stopped, {out} left as it was", file=sys.stderr)
        return None, 128 + exc.signum


def status_counts(records: List[Dict[str, Any]]) -> str:
    """``error=3 ok=12``: how many records have each status, for a closing line."""
    counts: Dict[str, int] = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items()))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="main.py probe", description=__doc__.split("\n\n")[0])
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
    ap.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--partial-select", action="store_true",
                    help="--select patterns may name tests of a suite run beside: none is an error here")
    args = ap.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        ap.error(f"expected --jobs 1 or more. Received: --jobs {args.jobs}")
    doc, code = guarded(args.label, args.out, lambda: probe(
        args.cases, args.label, args.out, env=json.loads(args.env_json) if args.env_json else None,
        install=json.loads(args.install_json) if args.install_json else None,
        select=args.select, timeout=args.timeout, startup_timeout=args.startup_timeout,
        jobs=args.jobs, shuffle=args.shuffle, progress=not args.no_progress,
        partial_select=args.partial_select))
    if doc is None:
        return code
    print(f"{args.label}: {len(doc['outcomes'])} outcomes {status_counts(doc['outcomes'])}"
          f"; {len(doc['corpus_errors'])} corpus errors; wrote {args.out}")
    for err in doc["corpus_errors"]:
        print(f"  corpus error: {err['file']}:{err['line']}: {err['message']}", file=sys.stderr)
    return 0 if doc["status"] == "ok" and not doc["corpus_errors"] else 1

