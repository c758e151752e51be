"""Load the corpus: import every case module and collect its cases.

A broken case module (a syntax error, an import that fails, a duplicate id, a
bad declaration) becomes a :class:`CorpusError` naming its file and line; the
other modules still load.  Used on the host (listing, reports) and inside each
TensorFlow environment by the probe, so it depends on the standard library only.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from . import case as _case
from .case import display_path, register_roots


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


@dataclasses.dataclass
class Corpus:
    cases: List[_case.Case]
    errors: List[CorpusError]

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

        return Corpus([c for c in self.cases if keep(c)], list(self.errors))


def _module_files(paths: Iterable[os.PathLike]) -> List[Path]:
    files: List[Path] = []
    for p in map(Path, paths):
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


def load(paths: Iterable[os.PathLike]) -> Corpus:
    """Import the case modules under ``paths`` (folders or files).

    Files and lines in corpus errors and case metadata are relative to the
    folder given (see :func:`display_path`)."""
    paths = list(paths)
    register_roots(paths)
    cases: List[_case.Case] = []
    errors: List[CorpusError] = []
    seen: Dict[str, _case.Case] = {}
    files = _module_files(paths)
    # Case modules may import helpers beside them (cases/_sources.py): their
    # folders are importable while the corpus loads.
    folders = [str(d) for d in dict.fromkeys(f.resolve().parent for f in files)]
    sys.path[:0] = folders
    try:
        _load_files(files, cases, errors, seen)
    finally:
        for d in folders:
            sys.path.remove(d)
    return Corpus(cases, errors)


def _load_files(files: List[Path], cases: List[_case.Case], errors: List[CorpusError],
                seen: Dict[str, _case.Case]) -> None:
    for index, file in enumerate(files):
        file = file.resolve()
        collected: List[_case.Case] = []
        saved, _case._collector = _case._collector, collected
        try:
            _import_file(file, index)
        except _case.CaseDefinitionError as exc:
            errors.append(CorpusError(display_path(exc.file), exc.line, exc.message))
            collected = []
        except (Exception, SystemExit) as exc:
            errors.append(CorpusError(
                display_path(str(file)), _error_line(exc, file),
                f"case module failed to import: {type(exc).__name__}: {exc}"))
            collected = []
        finally:
            _case._collector = saved
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
