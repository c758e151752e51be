"""The suite's worker: ``pytest.main`` in one process, with tfcanary's plugin.

Started by the supervisor of :mod:`tfcanary._engine.suite` as ``main.py
suite-worker``.  pytest collects the suite as it always does (the user's
configuration, conftest files and plugins); :class:`Plugin` announces each
module it collects (so that a worker that dies importing one names it), then
the node ids (the ``plan``), then runs the tests one at a time as the
supervisor assigns them, through pytest's own ``pytest_runtest_protocol`` with
the next assigned test as ``nextitem``, so fixtures are set up and torn down as
under plain pytest.  :func:`test_outcome` turns a test's phases into its
outcome; :func:`matches` is what ``--select`` means for a test.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tfcanary import fingerprint as _fp
from tfcanary._engine import modes, worker
from tfcanary.outcome import Outcome, Status

VARIANT = "test"
MODE = "pytest"
COLLECT = "collect"
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


def error_fields(exc: BaseException, rootdir: str, tmp: str) -> Dict[str, Any]:
    """An exception as an ``error`` outcome's fields (:func:`tfcanary._engine.modes.error_fields`:
    the user's directory and the run's temporary folder become placeholders before the message
    is normalized), with the innermost frame in the user's own files."""
    fields = modes.error_fields(exc, {os.path.realpath(rootdir): ".", rootdir: ".",
                                      tmp: "<tmp>", os.path.realpath(tmp): "<tmp>"})
    fields["message"] = fields["message"] or ""
    return {**fields, "frame": user_frame(exc, rootdir)}


def text_error(exc_type: str, text: str) -> Dict[str, Any]:
    """An ``error`` outcome's fields where pytest gives a text and no exception."""
    normalized = _fp.normalize(text)
    return {"status": Status.ERROR, "exc_type": exc_type, "message": text, "normalized": normalized,
            "fingerprint": _fp.fingerprint(exc_type, normalized)}


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
                fields = text_error("XPASS(strict)", str(getattr(report, "longrepr", "") or "failed"))
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
                    fields = text_error("CollectError", str(report.longrepr))
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
