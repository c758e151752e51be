"""Load the corpus: import every case module and collect its cases.

A broken case module (a syntax error, an import that fails, any exception or
``BaseException`` at import, a duplicate id, a bad declaration) becomes a
:class:`CorpusError` naming its file and line; the other modules still load.

Two ways to load, one result:

- :func:`scan` imports the case modules in a child process (``main.py
  corpus-scan``, :mod:`tfcanary._engine.scan`), module by module: a module that
  hangs at import or ends the process is a corpus error too, and the child is
  started again without it.  What lists or plans the corpus uses it: ``tfcanary
  list``, bisect's choice of keys (on the host) and the probe's plan (in each
  environment).
- :func:`load` imports them in this process, to run their variants: the probe's
  and the timer's workers, which their supervisor already guards against a
  hang or a crash; given ``modules``, only those the scan found importable.

Standard library only: the probe imports it inside each TensorFlow environment.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from . import case as _case
from .case import display_path, register_roots
from .errors import UsageError


@dataclasses.dataclass(frozen=True)
class CorpusError:
    """A case module or declaration that could not be used."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "CorpusError":
        return cls(**d)


IMPORT_TIMEOUT_VAR = "TFCANARY_IMPORT_TIMEOUT"
IMPORT_TIMEOUT = 60.0     # seconds one case module may take to import (scan)


@dataclasses.dataclass
class Corpus:
    cases: List[_case.Case]
    errors: List[CorpusError]
    modules: List[str] = dataclasses.field(default_factory=list)   # module files that imported

    def get(self, case_id: str) -> _case.Case:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def select(self, patterns: Sequence[str] = ()) -> "Corpus":
        """Keep the cases whose id, family or tag matches one of ``patterns``
        (shell-style wildcards); all cases when there are none."""
        if not patterns:
            return self
        import fnmatch

        def keep(c: _case.Case) -> bool:
            names = [c.id, c.family, *c.tags]
            return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)

        return Corpus([c for c in self.cases if keep(c)], list(self.errors), list(self.modules))


def _module_files(paths: Iterable[os.PathLike]) -> List[Path]:
    files: List[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise UsageError(f"Expected --cases to name a folder or file of case modules. Received: {p} "
                             "(not found).")
        if p.is_dir():
            files.extend(sorted(f for f in p.glob("*.py") if not f.name.startswith("_")))
        else:
            files.append(p)
    return files


def _error_line(exc: BaseException, file: Path) -> int:
    """The line in ``file`` where ``exc`` arose: the deepest frame in that file."""
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == file:
        return exc.lineno or 1
    line = 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == file.resolve():
            line = frame.lineno or line
    return line


def _import_file(file: Path, index: int) -> None:
    name = f"tfcanary_cases_{index}_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise


def load(paths: Iterable[os.PathLike], modules: Optional[Sequence[str]] = None) -> Corpus:
    """Import the case modules under ``paths`` (folders or files) in this process.

    ``modules``: only these module files (absolute paths), as :func:`scan` found
    them importable.  Files and lines in corpus errors and case metadata are
    relative to the folder given (see :func:`display_path`)."""
    paths = list(paths)
    register_roots(paths)
    cases: List[_case.Case] = []
    errors: List[CorpusError] = []
    seen: Dict[str, _case.Case] = {}
    files = [f.resolve() for f in _module_files(paths)]
    wanted = None if modules is None else set(modules)
    indexed = [(i, f) for i, f in enumerate(files) if wanted is None or str(f) in wanted]
    with importable(files):
        for index, file in indexed:
            collected, module_errors = load_module(file, index)
            errors.extend(module_errors)
            _collect(collected, cases, errors, seen)
    return Corpus(cases, errors, [str(f) for _, f in indexed])


@contextlib.contextmanager
def importable(files: Sequence[Path]) -> Iterator[None]:
    """Case modules may import helpers beside them (cases/_sources.py): their folders are
    importable while the corpus loads."""
    folders = [str(d) for d in dict.fromkeys(f.parent for f in files)]
    sys.path[:0] = folders
    try:
        yield
    finally:
        for d in folders:
            if d in sys.path:
                sys.path.remove(d)


def load_module(file: Path, index: int) -> Tuple[List[_case.Case], List[CorpusError]]:
    """Import one case module: the cases it declares, or the corpus error it is.

    Any exception at import is a corpus error naming the file and line, a
    ``BaseException`` too (``SystemExit``, ``KeyboardInterrupt``): a case module
    cannot stop the loader."""
    collected: List[_case.Case] = []
    saved, _case._collector = _case._collector, collected
    try:
        _import_file(file, index)
    except _case.CaseDefinitionError as exc:
        return [], [CorpusError(display_path(exc.file), exc.line, exc.message)]
    except BaseException as exc:  # noqa: BLE001 -- whatever a module raises is its error
        return [], [CorpusError(display_path(str(file)), _error_line(exc, file),
                                f"case module failed to import: {type(exc).__name__}: {exc}")]
    finally:
        _case._collector = saved
    return collected, []


def _collect(collected: Sequence[_case.Case], cases: List[_case.Case], errors: List[CorpusError],
             seen: Dict[str, _case.Case]) -> None:
    for c in collected:
        problem = _check(c, seen.get(c.id))
        if problem:
            errors.append(CorpusError(display_path(c.file), c.line, problem))
            continue
        seen[c.id] = c
        cases.append(c)


def _check(c: _case.Case, earlier: Optional[_case.Case]) -> Optional[str]:
    if earlier is not None:
        return (f"duplicate case id {c.id!r}: already declared at "
                f"{display_path(earlier.file)}:{earlier.line}")
    if "broken" not in c.variants:
        return f"case {c.id!r} has no broken variant: decorate a function with @<case>.broken"
    return None


# --- the corpus listed from a separate process ----------------------------------------

def import_timeout() -> float:
    """Seconds one case module may take to import in :func:`scan`: ``$TFCANARY_IMPORT_TIMEOUT``
    or :data:`IMPORT_TIMEOUT`."""
    try:
        value = float(os.environ.get(IMPORT_TIMEOUT_VAR) or IMPORT_TIMEOUT)
    except ValueError:
        return IMPORT_TIMEOUT
    return value if 0 < value < float("inf") else IMPORT_TIMEOUT


def scan(paths: Iterable[os.PathLike], timeout: Optional[float] = None) -> Corpus:
    """The corpus under ``paths``, its case modules imported in a separate process.

    What :func:`load` gives, for what lists and plans the corpus (ids, families,
    tags, variants, metadata), without running a case module in this process: a
    module that hangs at import (past ``timeout`` seconds, :func:`import_timeout`
    by default) or ends the process (``os._exit``, a fatal signal) becomes a
    corpus error naming its file, and its line where the child could tell, and
    the other modules still load (the child is started again without it).  The
    cases' variants cannot be run from here: :func:`load` (with
    ``modules=corpus.modules``) imports the modules that loaded, to run them.
    Where processes cannot be handled so (Windows), the modules load in this
    process, as :func:`load` does.
    """
    if not hasattr(os, "killpg"):
        return load(paths)
    paths = list(paths)
    register_roots(paths)
    files = [f.resolve() for f in _module_files(paths)]
    timeout = import_timeout() if timeout is None else timeout
    reports: Dict[int, Dict[str, Any]] = {}
    pending = list(range(len(files)))
    while pending:
        done, failed = _scan_child(paths, [(i, files[i]) for i in pending], timeout)
        reports.update(done)
        if failed is not None:
            reports[failed[0]] = {"cases": [], "errors": [failed[1].to_dict()], "failed": True}
        pending = [i for i in pending if i not in reports]
    cases: List[_case.Case] = []
    errors: List[CorpusError] = []
    seen: Dict[str, _case.Case] = {}
    for i in range(len(files)):
        errors.extend(CorpusError.from_dict(e) for e in reports[i]["errors"])
        _collect([_listed_case(d) for d in reports[i]["cases"]], cases, errors, seen)
    return Corpus(cases, errors, [str(files[i]) for i in range(len(files)) if not reports[i]["failed"]])


def _listed_case(d: Dict[str, Any]) -> _case.Case:
    """A case as the scan's child described it; its variants only say that they exist."""
    def elsewhere(tf: Any, keras: Any) -> None:
        raise RuntimeError(f"case {d['id']!r} was listed by a separate process: load the corpus with "
                           "tfcanary.corpus.load to run its variants")

    return _case.Case(id=d["id"], family=d["family"], kind=d["kind"], source=d["source"],
                      claim=_case.Claim.from_dict(d["claim"]), tags=tuple(d["tags"]), doc=d["doc"],
                      file=d["path"], line=d["line"], url=d["url"], fidelity=d["fidelity"],
                      variants={v: elsewhere for v in d["variants"]})


_SCAN_MAIN = Path(__file__).resolve().parent / "_engine" / "main.py"
_FRAME_RE = re.compile(r'File "(.*)", line (\d+)')


def _scan_child(paths: Sequence[os.PathLike], files: List[Tuple[int, Path]], timeout: float
                ) -> Tuple[Dict[int, Dict[str, Any]], Optional[Tuple[int, CorpusError]]]:
    """Import ``files`` in one child process (``main.py corpus-scan``), module by module.

    Returns the reports of the modules it got through, and the module that hung or
    ended the child, with its corpus error (None when the child finished)."""
    import select
    import signal
    import subprocess
    import tempfile

    plan = {"roots": [str(p) for p in paths], "files": [[i, str(f)] for i, f in files]}
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, str(_SCAN_MAIN), "corpus-scan", "--events-fd", str(write_fd),
                                 "--plan", json.dumps(plan)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        done: Dict[int, Dict[str, Any]] = {}
        current: Optional[Tuple[int, Path]] = None
        exit_event: Dict[str, Any] = {}
        buffer = b""
        deadline = time.monotonic() + timeout
        try:
            while True:
                ready, _, _ = select.select([read_fd], [], [], min(0.5, max(0.0, deadline - time.monotonic())))
                chunk = os.read(read_fd, 65536) if ready else b""
                if ready and chunk:
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        event = json.loads(line)
                        if event["event"] == "start":
                            current = files[[i for i, _ in files].index(event["i"])]
                            exit_event, deadline = {}, time.monotonic() + timeout
                        elif event["event"] == "module":
                            done[event["i"]] = {"cases": event["cases"], "errors": event["errors"],
                                                "failed": event["failed"]}
                            current, deadline = None, time.monotonic() + timeout
                        elif event["event"] == "exit":
                            exit_event = event
                        elif event["event"] == "done":
                            return done, None
                    continue
                ended = (ready and not chunk) or proc.poll() is not None
                if not ended and time.monotonic() < deadline:
                    continue
                if current is None:
                    raise RuntimeError(f"the corpus scan's process stopped outside any case module "
                                       f"(exit {proc.poll()}): {_tail(log)}")
                index, file = current
                if not ended:                     # a hang: ask where it is, then stop it
                    _signal_group(proc, signal.SIGUSR1)
                    time.sleep(0.5)
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait()
                    line = _line_in(_tail(log, 20000), file) or 1
                    message = (f"case module did not finish importing within {timeout:g} s (does it loop or "
                               f"wait at import?); skipped. ${IMPORT_TIMEOUT_VAR} sets the limit")
                else:
                    rc = proc.wait()
                    line = exit_event.get("line") or _line_in(_tail(log, 20000), file) or 1
                    how = (f"os._exit({exit_event.get('code')})" if exit_event else
                           f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit code {rc}")
                    message = f"case module ended the process at import ({how}); skipped"
                return done, (index, CorpusError(display_path(str(file)), int(line), message))
        finally:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            os.close(read_fd)


def _signal_group(proc: Any, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(log: Any, size: int = 2000) -> str:
    log.flush()
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode("utf-8", "replace")


def _line_in(text: str, file: Path) -> Optional[int]:
    """The line of ``file`` in the innermost frame of a traceback that faulthandler wrote."""
    for path, line in _FRAME_RE.findall(text):
        if os.path.realpath(path) == str(file):
            return int(line)
    return None
