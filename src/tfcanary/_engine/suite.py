"""A team's own pytest suite inside one environment: one outcome per test node id.

Started in an environment by :func:`tfcanary.envs.launch.launch` (``main.py
suite``), from the user's working directory (pytest's rootdir, configuration
and conftest files are theirs)::

    main.py suite --pytest tests --label tf2.21 --out results/tf2.21.json [--pytest-args '-m "not slow"']

The supervisor (:mod:`.supervise`) runs one worker (``main.py suite-worker``,
:mod:`.suite_worker`) that runs ``pytest.main`` in-process with its plugin: pytest collects as it
always does, the plugin announces the node ids (the ``plan``), then runs the
tests one at a time as the supervisor assigns them, through pytest's own
``pytest_runtest_protocol``, so session and module fixtures are shared as under
plain pytest.  A test that kills the worker is a ``crash``; one that runs past
``--timeout`` a ``timeout``; a fresh worker collects again and goes on with
the rest.  A worker that dies while importing a test module marks that module
(``crash``, mode ``collect``) and the suite is collected again without it.

How a test is recorded (variant ``test``; family = its module's node id):

- mode ``pytest``: ``ok`` (passed), ``error`` (failed or errored in setup,
  call or teardown: the first failing ``phase``, the module-qualified class,
  raw and normalized message, fingerprint, the innermost frame in the user's
  own files as a relative path), ``skip`` (with its reason), ``crash``,
  ``timeout``.  An expected failure (``xfail``) is an ``error`` carrying
  ``xfail`` (the marker's reason), with the exception it raised; one that
  passes (``xpass``) is ``ok`` carrying ``xfail``: so an xfail test that starts
  passing is a ``now-works`` transition.  A strict xpass fails, as in pytest.
- mode ``collect``, for a module (or other collector) that does not collect:
  an ``error`` with the import's exception (an ``ImportError`` behind
  pytest's ``CollectError``), or ``skip`` for a module-level skip.  The
  reports compare such a module with the tests it had elsewhere
  (:func:`tfcanary.diff.transitions`: ``stopped-collecting``).

Between tests the hermetic reset (:mod:`.hermetic`) restores the global
Keras state as it was once pytest had collected, and the seeds, and notes what
a test left changed (``leaked``); ``--no-reset`` turns it off.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tfcanary import results as _results
from tfcanary._engine.probe import earlier, guarded, status_counts
from tfcanary._engine.progress import Progress
from tfcanary._engine.suite_worker import COLLECT, VARIANT, describe
from tfcanary._engine.supervise import Supervisor, handle_interrupts, log_tail, sweep_stale
from tfcanary.errors import UsageError
from tfcanary.outcome import Outcome, Status

MAIN = Path(__file__).resolve().parent / "main.py"
MAX_COLLECTION_CRASHES = 5


# ---------------------------------------------------------------- the driver

def _is_test_key(o: Dict[str, Any]) -> bool:
    return o.get("variant") == VARIANT


def run(paths: Sequence[str], label: str, out: Path, pytest_args: Sequence[str] = (),
        env: Optional[Dict[str, Any]] = None, install: Optional[Dict[str, Any]] = None,
        select: Sequence[str] = (), timeout: float = 300.0, startup_timeout: float = 600.0,
        reset: bool = True, rootdir: Optional[str] = None, progress: bool = True,
        partial_select: bool = False) -> Dict[str, Any]:
    """Run the suite in this interpreter's environment and write ``out``, merged into the results
    of the same packages already there (:func:`tfcanary._engine.probe.earlier`)."""
    from tfcanary._engine.metadata import pip_freeze

    t0 = time.perf_counter()
    rootdir = os.path.realpath(rootdir or os.getcwd())
    out = Path(out)
    select = list(select)
    old = earlier(out, select, pip_freeze(), verb="run", done="run", keep_without_select=True)
    sweep_stale()
    ignore: List[str] = []
    crashed: List[Dict[str, Any]] = []
    restarts = 0
    while True:
        workdir = Path(tempfile.mkdtemp(prefix=f"tfcanary-probe-{os.getpid()}-"))
        plan_path = workdir / "plan.json"
        plan_path.write_text(json.dumps({"paths": list(paths), "args": list(pytest_args), "select": select,
                                         "ignore": ignore, "reset": reset, "rootdir": rootdir,
                                         "partial_select": partial_select}),
                             encoding="utf-8")
        sup = Supervisor([sys.executable, str(MAIN), "suite-worker", "--plan", str(plan_path)], None,
                         workdir, timeout, startup_timeout, jobs=1, cwd=Path(rootdir))
        sup.notify = Progress(sup, "tests", enabled=progress)

        def cleanup(sup: Supervisor = sup, workdir: Path = workdir) -> None:
            sup.close()
            sup.notify.finish()
            shutil.rmtree(workdir, ignore_errors=True)

        with handle_interrupts(cleanup):
            sup.run()
            tail = log_tail(sup.log_path)
        restarts += sup.restarts
        died = sup.died_collecting
        if sup.plan is None and died and died not in ignore and len(ignore) < MAX_COLLECTION_CRASHES:
            crashed.append(Outcome(died, VARIANT, COLLECT, Status.CRASH, phase=COLLECT,
                                   reason=f"the worker died while collecting it: {sup.failure or ''}"
                                   .strip()[:3000]).to_dict())
            ignore.append(died)
            continue
        break
    plan = sup.plan or {}
    if plan.get("unmatched") and not partial_select:
        raise UsageError(
            f"Expected --select patterns matching a test (node id, a prefix of one, or a -k expression) "
            f"of {' '.join(paths)}. Received: {', '.join(repr(p) for p in plan['unmatched'])}, which match "
            f"nothing. Nothing was run; {out} is left as it was.")
    items = sup.items or []
    outcomes = crashed + list(plan.get("collected") or []) + [sup.outcomes[i] for i in range(len(items))]
    for o in outcomes:
        o["run"] = 1
    cases = list(plan.get("cases") or []) + [describe(o["case"], None, rootdir, None, kind="test-module")
                                              for o in crashed]
    meta = dict((sup.meta or {}).get("metadata") or {})
    meta["date"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta["released"] = (env or {}).get("released")
    status = "ok" if sup.meta is not None else "probe-failed"
    doc: Dict[str, Any] = {
        "label": label, "status": status, "env": env or {"label": label}, "install": install or {},
        "metadata": meta,
        "timing": {"import_s": (sup.meta or {}).get("import_s"), "collect_s": plan.get("collect_s"),
                   "probe_s": round(time.perf_counter() - t0, 2), "worker_restarts": restarts, "jobs": 1},
        "runs": [{"id": 1, "date": meta["date"], "select": select, "shuffle": None, "jobs": 1,
                  "outcomes": len(outcomes), "kind": "pytest"}],
        "pytest": {"paths": list(paths), "args": list(pytest_args), "reset": reset,
                   "version": meta.get("pytest"), "rootdir": "."},
        "cases": cases, "corpus_errors": [], "outcomes": outcomes,
    }
    if status == "probe-failed":
        doc["message"] = sup.failure or "\n".join(tail) or "the test suite's worker never reported"
    if old is not None:
        doc = merge(old, doc, select)
    _results.write(out, doc)
    return doc


def merge(old: Dict[str, Any], new: Dict[str, Any], select: Sequence[str]) -> Dict[str, Any]:
    """The suite's run ``new`` merged into ``old``: with ``select``, the tests it ran replace
    theirs; without, every earlier test and module outcome goes.  The corpus's outcomes, corpus
    errors and timing stay (a corpus probed in the same run, with the same packages)."""
    ran = {o["case"] for o in new["outcomes"]}
    replaced = sorted(ran if select else ran | {o["case"] for o in old.get("outcomes") or [] if _is_test_key(o)})
    order = [[o["case"], o["variant"], o["mode"]] for o in old.get("outcomes") or [] if o["case"] not in replaced]
    order += [[o["case"], o["variant"], o["mode"]] for o in new["outcomes"]]
    merged = _results.merge(old, new, replaced, order)
    merged["corpus_errors"] = list(old.get("corpus_errors") or [])
    merged["timing"] = {**(old.get("timing") or {}),
                        **{f"pytest_{k}": v for k, v in (new.get("timing") or {}).items()}}
    if old.get("status") == "ok" and new.get("status") != "ok":
        merged["status"] = new["status"]
    return merged


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="main.py suite", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pytest", action="append", required=True, metavar="PATH",
                    help="test file, folder or node id, relative to the working directory (repeatable)")
    ap.add_argument("--pytest-args", default="", help="more pytest arguments, as one shell-quoted string")
    ap.add_argument("--label", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--env-json", default=None)
    ap.add_argument("--install-json", default=None)
    ap.add_argument("--select", action="append", default=[],
                    help="node id, node id prefix or -k expression (repeatable); merges into --out")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per test (its fixtures' set-up included)")
    ap.add_argument("--startup-timeout", type=float, default=600.0,
                    help="seconds for a worker to import and collect the suite")
    ap.add_argument("--no-reset", action="store_true", help="no hermetic reset between tests")
    ap.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    ap.add_argument("--partial-select", action="store_true",
                    help="--select patterns may name cases probed beside: none is an error here")
    args = ap.parse_args(argv)
    try:
        extra = shlex.split(args.pytest_args)
    except ValueError as exc:
        ap.error(f"--pytest-args: {exc}")
    doc, code = guarded(args.label, args.out, lambda: run(
        args.pytest, args.label, args.out, extra, env=json.loads(args.env_json) if args.env_json else None,
        install=json.loads(args.install_json) if args.install_json else None,
        select=args.select, timeout=args.timeout, startup_timeout=args.startup_timeout,
        reset=not args.no_reset, progress=not args.no_progress, partial_select=args.partial_select))
    if doc is None:
        return code
    mine = [o for o in doc["outcomes"] if _is_test_key(o)]
    print(f"{args.label}: {len(mine)} test outcomes {status_counts(mine)}; wrote {args.out}")
    if doc["status"] != "ok":
        print(f"{args.label}: the suite did not run: {doc.get('message', '')[-1500:]}", file=sys.stderr)
    return 0 if doc["status"] == "ok" else 1
