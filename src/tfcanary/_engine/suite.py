"""A team's own pytest suite inside one environment: one outcome per test node id.

Started in an environment by :func:`tfcanary.envs.launch.launch` (``main.py
suite``), from the user's working directory (pytest's rootdir, configuration
and conftest files are theirs)::

    main.py suite --pytest tests --label tf2.21 --out results/tf2.21.json [--pytest-args '-m "not slow"']

The supervisor (:mod:`.supervise`) runs one worker (``main.py suite-worker``)
that runs ``pytest.main`` in-process with :class:`Plugin`: pytest collects as it
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
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tfcanary import fingerprint as _fp
from tfcanary import results as _results
from tfcanary._engine import worker
from tfcanary._engine.progress import Progress
from tfcanary._engine.supervise import Interrupted, Supervisor, handle_interrupts, log_tail, sweep_stale
from tfcanary.errors import UsageError
from tfcanary.outcome import Outcome, Status

MAIN = Path(__file__).resolve().parent / "main.py"
VARIANT = "test"
MODE = "pytest"
COLLECT = "collect"
MAX_COLLECTION_CRASHES = 5
# pytest's cache would write .pytest_cache into the user's tree and feed --lf/--ff orderings.
PYTEST_FLAGS = ("-p", "no:cacheprovider")


# ---------------------------------------------------------------- selection

def _is_path_like(pattern: str) -> bool:
    return "::" in pattern or "/" in pattern or pattern.endswith(".py")


def matches(pattern: str, nodeid: str, keywords: Any = None) -> bool:
    """Whether ``--select PATTERN`` selects the test ``nodeid``.

    A node id, or a prefix of one at a ``::``, ``/`` or ``[`` boundary (a
    module, a class, a folder, a parametrized test), selects by name; shell wildcards are tried on the node
    id too.  Any other pattern is a ``-k`` expression evaluated by pytest's own
    keyword matching on the item (``keywords``: a callable from
    :func:`keyword_matcher`), else a case-insensitive substring of the node id.
    """
    import fnmatch

    if nodeid == pattern or nodeid.startswith(pattern.rstrip("/:") + ("::" if pattern.endswith(".py")
                                                                        or "::" in pattern else "/")):
        return True
    if "::" in pattern and nodeid.startswith(pattern + "["):      # every parametrization of a test
        return True
    if _is_path_like(pattern):
        return any(c in pattern for c in "*?") and fnmatch.fnmatchcase(nodeid, pattern)
    if keywords is not None:
        return bool(keywords(pattern))
    return pattern.lower() in nodeid.lower()


def keyword_matcher(item: Any) -> Any:
    """A function ``expr -> bool``: pytest's ``-k`` matching for ``item`` (``None`` where this
    pytest's internals differ: the caller falls back to substrings)."""
    try:
        from _pytest.mark import KeywordMatcher
        from _pytest.mark.expression import Expression
    except ImportError:
        return None
    matcher = KeywordMatcher.from_item(item)

    def evaluate(expr: str) -> bool:
        try:
            return bool(Expression.compile(expr).evaluate(matcher))
        except Exception:   # not a -k expression pytest accepts: a substring then
            return expr.lower() in item.nodeid.lower()

    return evaluate


# ---------------------------------------------------------------- recording a test

def _display(path: str, rootdir: str) -> Optional[str]:
    """``path`` relative to ``rootdir`` when it is the user's own file (not an installed package)."""
    real = os.path.realpath(path)
    root = os.path.realpath(rootdir)
    if not real.startswith(root + os.sep):
        return None
    rel = os.path.relpath(real, root)
    parts = rel.split(os.sep)
    if any(p in ("site-packages", "dist-packages") or p.startswith(".") for p in parts[:-1]):
        return None
    return rel.replace(os.sep, "/")


def user_frame(exc: BaseException, rootdir: str) -> Optional[str]:
    """The innermost traceback frame in the user's own files: ``tests/test_x.py:42 in test_call``."""
    found = None
    for fr in traceback.extract_tb(exc.__traceback__):
        rel = _display(fr.filename, rootdir)
        if rel is not None:
            found = f"{rel}:{fr.lineno} in {fr.name}"
    return found


def exc_type_name(exc: BaseException) -> str:
    t = type(exc)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def error_fields(exc: BaseException, rootdir: str, tmp: str) -> Dict[str, Any]:
    """An exception as an ``error`` outcome's fields: the user's directory and the run's
    temporary folder become placeholders before the message is normalized."""
    from tfcanary._engine.hermetic import scrub

    name = exc_type_name(exc)
    message = scrub(str(exc), {os.path.realpath(rootdir): ".", rootdir: ".",
                               tmp: "<tmp>", os.path.realpath(tmp): "<tmp>"}) or ""
    normalized = _fp.normalize(message)
    return {"status": Status.ERROR, "exc_type": name, "message": message, "normalized": normalized,
            "fingerprint": _fp.fingerprint(name, normalized), "frame": user_frame(exc, rootdir)}


def _skip_reason(report: Any) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).replace("Skipped: ", "", 1)
    return str(longrepr or "skipped")


def test_outcome(nodeid: str, phases: List[Tuple[str, Any, Any]], rootdir: str, tmp: str,
                 duration: float, leaked: Sequence[str] = ()) -> Dict[str, Any]:
    """One test's outcome from its phases: ``(when, excinfo, report)`` for setup, call, teardown."""
    fields: Dict[str, Any] = {"status": Status.OK}
    for when, excinfo, report in phases:
        wasxfail = getattr(report, "wasxfail", None)
        if report.failed:
            if excinfo is not None:
                fields = error_fields(excinfo.value, rootdir, tmp)
            else:   # a strict xpass: pytest fails the test without an exception
                text = str(getattr(report, "longrepr", "") or "failed")
                fields = {"status": Status.ERROR, "exc_type": "XPASS(strict)", "message": text,
                          "normalized": _fp.normalize(text),
                          "fingerprint": _fp.fingerprint("XPASS(strict)", _fp.normalize(text))}
            fields["phase"] = when
            break
        if report.skipped and wasxfail is not None:         # xfailed: the exception it raised
            fields = (error_fields(excinfo.value, rootdir, tmp) if excinfo is not None
                      else {"status": Status.ERROR, "exc_type": "XFAIL", "message": str(wasxfail)})
            fields.update(phase=when, xfail=str(wasxfail) or "xfail")
            break
        if report.skipped:
            fields = {"status": Status.SKIP, "reason": _skip_reason(report), "phase": when}
            break
        if when == "call" and wasxfail is not None:          # xpassed (not strict)
            fields["xfail"] = str(wasxfail) or "xfail"
    return Outcome(nodeid, VARIANT, MODE, duration_s=round(duration, 4), leaked=tuple(leaked),
                   **fields).to_dict()


# ---------------------------------------------------------------- the worker

def _plugin_class(pytest: Any) -> type:
    """The plugin, made once pytest is imported (the engine imports nothing but the standard
    library at module level)."""

    class Plugin:
        """Announces pytest's collection to the supervisor, then runs the tests it assigns."""

        def __init__(self, events: worker.Events, stream: Any, plan: Dict[str, Any],
                     meta: bool) -> None:
            self.events, self.stream, self.plan, self.meta = events, stream, plan, meta
            self.rootdir = plan["rootdir"]
            self.tmp = os.path.realpath(tempfile.gettempdir())
            self.collect_exc: Dict[str, Any] = {}
            self.collect_reports: Dict[str, Any] = {}
            self.unmatched: List[str] = []
            self.phases: List[Tuple[str, Any, Any]] = []
            self.started = time.perf_counter()

        @pytest.hookimpl(tryfirst=True)
        def pytest_collectstart(self, collector: Any) -> None:
            if isinstance(collector, pytest.File):
                self.events.emit({"event": "collecting", "name": collector.nodeid})

        def pytest_exception_interact(self, node: Any, call: Any, report: Any) -> None:
            if isinstance(report, pytest.CollectReport) and call.excinfo is not None:
                self.collect_exc[report.nodeid] = call.excinfo

        def pytest_collectreport(self, report: Any) -> None:
            if report.failed or (report.skipped and report.nodeid):
                self.collect_reports[report.nodeid] = report

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, session: Any, config: Any, items: List[Any]) -> None:
            select = self.plan.get("select") or []
            if not select:
                return
            hits = {p: 0 for p in select}
            keep = []
            for item in items:
                keywords = keyword_matcher(item)
                chosen = [p for p in select if matches(p, item.nodeid, keywords)]
                for p in chosen:
                    hits[p] += 1
                if chosen:
                    keep.append(item)
            failed = [n for n, r in self.collect_reports.items() if r.failed]
            # A pattern inside a module that did not collect is answered by that module's outcome.
            self.unmatched = [p for p, n in hits.items() if n == 0 and not any(
                p == f or p.startswith(f + "::") or f.startswith(p.rstrip("/") + "/") for f in failed)]
            items[:] = keep

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
            outcome = yield
            self.phases.append((call.when, call.excinfo, outcome.get_result()))

        def collect_outcomes(self) -> List[Dict[str, Any]]:
            out = []
            for nodeid, report in self.collect_reports.items():
                if report.skipped:
                    out.append(Outcome(nodeid, VARIANT, COLLECT, Status.SKIP, phase=COLLECT,
                                       reason=_skip_reason(report)).to_dict())
                    continue
                excinfo = self.collect_exc.get(nodeid)
                exc = excinfo.value if excinfo is not None else None
                if exc is not None and exc.__cause__ is not None and type(exc).__name__ == "CollectError":
                    exc = exc.__cause__          # the ImportError behind "ImportError while importing"
                if exc is not None:
                    fields = error_fields(exc, self.rootdir, self.tmp)
                else:
                    text = str(report.longrepr)
                    fields = {"status": Status.ERROR, "exc_type": "CollectError", "message": text,
                              "normalized": _fp.normalize(text),
                              "fingerprint": _fp.fingerprint("CollectError", _fp.normalize(text))}
                out.append(Outcome(nodeid, VARIANT, COLLECT, phase=COLLECT, **fields).to_dict())
            return out

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(self, session: Any) -> bool:
            items = [] if self.unmatched and not self.plan.get("partial_select") else list(session.items)
            cases = [describe(i.nodeid, i.location, self.rootdir, i.function.__doc__
                              if hasattr(i, "function") else None) for i in items]
            collected = self.collect_outcomes()
            cases += [describe(o["case"], None, self.rootdir, None, kind="test-module") for o in collected]
            collect_s = round(time.perf_counter() - self.started, 3)
            self.events.emit({"event": "plan", "items": [[i.nodeid, VARIANT, MODE] for i in items],
                              "collected": collected, "cases": cases, "unmatched": self.unmatched,
                              "collect_s": collect_s})
            tf = keras = np = hermetic = None
            try:
                tf, keras, np, import_s = worker.import_tensorflow()
            except Exception as exc:  # a suite need not use TensorFlow; the metadata says so
                import_s = None
                sys.stderr.write(f"tensorflow did not import: {exc!r}\n")
            if self.meta:
                from tfcanary._engine import metadata

                meta = metadata.collect(tf, keras, np) if tf is not None else metadata.basic()
                meta["pytest"] = pytest.__version__
                meta["pytest_plugins"] = sorted({f"{d.project_name}-{d.version}" for _, d in
                                                 session.config.pluginmanager.list_plugin_distinfo()})
                self.events.emit({"event": "meta", "import_s": import_s, "collect_s": collect_s,
                                  "metadata": meta})
            if self.plan.get("reset") and tf is not None:
                from tfcanary._engine.hermetic import Hermetic

                hermetic = Hermetic(tf, keras, np, keep_current=True, environ=False)
            by_id = {i.nodeid: i for i in items}

            def run(i: int, msg: Dict[str, Any]) -> Dict[str, Any]:
                nodeid = msg["key"][0]
                item = by_id.get(nodeid)
                if item is None:
                    return Outcome(nodeid, VARIANT, MODE, Status.SKIP, duration_s=0.0,
                                   reason="not collected by this worker (its collection differed)").to_dict()
                nxt = by_id.get((msg.get("next_key") or [None])[0])
                if hermetic is not None:
                    hermetic.reset()
                self.phases = []
                t0 = time.perf_counter()
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nxt)
                leaked = hermetic.leaks(self.rootdir) if hermetic is not None else []
                return test_outcome(nodeid, self.phases, self.rootdir, self.tmp, time.perf_counter() - t0,
                                    leaked)

            worker.serve(self.events, run, self.stream, close=False)
            return True

    return Plugin


def describe(nodeid: str, location: Any, rootdir: str, doc: Optional[str],
             kind: str = "test") -> Dict[str, Any]:
    """A test's (or a module's) entry in the results' ``cases``, as a case's would be."""
    module = nodeid.split("::", 1)[0]
    line = location[1] + 1 if location and location[1] is not None else 1
    return {"id": nodeid, "family": module, "kind": kind, "source": "", "url": "", "fidelity": "",
            "claim": None, "tags": [], "doc": (doc or "").strip().split("\n")[0],
            "file": module, "line": line, "variants": [VARIANT]}


def worker_main(argv: Optional[List[str]] = None) -> int:
    """The suite's worker: ``pytest.main`` in this process, with :class:`Plugin`."""
    args = worker.parser(worker_main.__doc__ or "").parse_args(argv)
    plan = worker.start(args)
    # pytest captures file descriptor 0 (and 1, 2) during the run: keep our own copy of stdin.
    stream = os.fdopen(os.dup(0), "r", encoding="utf-8")
    events = worker.Events(args.events_fd)
    import pytest

    plugin = _plugin_class(pytest)(events, stream, plan, args.meta)
    pytest_args = [*plan["paths"], *plan["args"], *PYTEST_FLAGS]
    for ignored in plan.get("ignore") or []:
        pytest_args += [f"--deselect={ignored}"] if "::" in ignored else [f"--ignore={ignored}"]
    pytest.main(pytest_args, plugins=[plugin])
    events.emit({"event": "done"})
    events.close()
    return 0


# ---------------------------------------------------------------- the driver

def _earlier(out: Path, select: Sequence[str], freeze: List[str]) -> Optional[Dict[str, Any]]:
    """The results this run merges into: with ``select``, those of the same packages (else a
    UsageError); without, those of the same packages when there are any (a corpus probed
    just before, in the same run), else nothing (the file is replaced)."""
    if not out.exists():
        return None
    try:
        old = _results.read(out)
    except _results.ResultsError as exc:
        if select:
            raise UsageError(f"{exc}. A --select run merges into the existing results file and cannot "
                             f"read this one; move it away or run without --select.") from None
        return None
    if old.get("status") != "ok":
        return None
    changes = _results.package_changes(old, freeze)
    if changes and select:
        raise UsageError(
            f"{out} holds outcomes run with other package versions ({'; '.join(changes)}). "
            f"A --select run merges only into results of the same versions: run without --select "
            f"to replace the file. Nothing was run.")
    return None if changes else old


def _is_test_key(o: Dict[str, Any]) -> bool:
    return o.get("variant") == VARIANT


def run(paths: Sequence[str], label: str, out: Path, pytest_args: Sequence[str] = (),
        env: Optional[Dict[str, Any]] = None, install: Optional[Dict[str, Any]] = None,
        select: Sequence[str] = (), timeout: float = 300.0, startup_timeout: float = 600.0,
        reset: bool = True, rootdir: Optional[str] = None, progress: bool = True,
        partial_select: bool = False) -> Dict[str, Any]:
    """Run the suite in this interpreter's environment and write ``out`` (merged, see :func:`_earlier`)."""
    from tfcanary._engine.metadata import pip_freeze

    t0 = time.perf_counter()
    rootdir = os.path.realpath(rootdir or os.getcwd())
    out = Path(out)
    select = list(select)
    old = _earlier(out, select, pip_freeze())
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
    try:
        doc = run(args.pytest, args.label, args.out, extra,
                  env=json.loads(args.env_json) if args.env_json else None,
                  install=json.loads(args.install_json) if args.install_json else None,
                  select=args.select, timeout=args.timeout, startup_timeout=args.startup_timeout,
                  reset=not args.no_reset, progress=not args.no_progress, partial_select=args.partial_select)
    except UsageError as exc:
        print(f"tfcanary: error: {exc}", file=sys.stderr)
        return 2
    except Interrupted as exc:
        print(f"{args.label}: interrupted by {exc}; workers stopped, {args.out} left as it was",
              file=sys.stderr)
        return 128 + exc.signum
    mine = [o for o in doc["outcomes"] if _is_test_key(o)]
    counts: Dict[str, int] = {}
    for o in mine:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    print(f"{args.label}: {len(mine)} test outcomes "
          + " ".join(f"{k}={v}" for k, v in sorted(counts.items())) + f"; wrote {args.out}")
    if doc["status"] != "ok":
        print(f"{args.label}: the suite did not run: {doc.get('message', '')[-1500:]}", file=sys.stderr)
    return 0 if doc["status"] == "ok" else 1
