"""What the noxfile's sessions pass to tfcanary: their options, as ``tfcanary`` command lines.

The noxfile stays thin: each session parses ``session.posargs`` here and runs
the command line that a function here builds, so what a session decides is
tested without nox (``tests/test_sessions.py``).

Options after ``--`` reach every session (:func:`parse`): ``gpu``,
``--results-dir DIR``, ``--cases DIR`` (repeatable), ``--select PATTERN``
(repeatable), ``--timeout S``, ``--shuffle SEED``, ``--jobs N``,
``--speedups FILE``, ``--snapshots DIR``, ``--update``.  Paths are relative to
the folder nox was started in (nox itself runs in the noxfile's folder).  An
option the sessions do not know is a :class:`~tfcanary.errors.UsageError`
that names it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional, Sequence

from ..errors import UsageError
from ..matrix import Entry, get
from .install import nox_venv

PINS_FILE = "nightly-pins.txt"
TIMER_OPTIONS = ("processes", "repeats", "target_ms", "threads", "timeout", "pin_cpu", "target_hw",
                 "max_processes", "budget_s")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # argparse would exit; the session reports it
        raise UsageError(message)


def parse(posargs: Sequence[str], invoked_from: Optional[str], root: Path) -> argparse.Namespace:
    """The options after ``--``, shared by every session."""
    ap = _Parser(prog="nox -s <session> --", add_help=False, allow_abbrev=False)
    ap.add_argument("words", nargs="*")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--cases", action="append", default=[])
    ap.add_argument("--select", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--shuffle")
    ap.add_argument("--jobs")
    ap.add_argument("--speedups")
    ap.add_argument("--snapshots")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("--pytest", action="append", default=[])
    ap.add_argument("--pytest-args", default="")
    ap.add_argument("--no-reset", action="store_true")
    try:
        opts, unknown = ap.parse_known_args(list(posargs))
        if unknown:
            raise UsageError(f"unknown {sorted(unknown)}")
    except UsageError as exc:
        raise UsageError(f"Expected options after -- like 'gpu', '--cases DIR', '--select ID', "
                         f"'--results-dir DIR', '--timeout S', '--shuffle SEED', '--jobs N'. "
                         f"Received: {' '.join(posargs)} ({exc})") from None
    base = Path(invoked_from or root)
    opts.results_dir = (base / opts.results_dir).resolve()
    opts.cases = [(base / c).resolve() for c in opts.cases]
    opts.invoked_from = base
    if opts.snapshots:
        opts.snapshots = (base / opts.snapshots).resolve()
    if opts.speedups:
        opts.speedups = (base / opts.speedups).resolve()
    elif (opts.results_dir / "speed" / "speedups.csv").exists():   # written by the speed session
        opts.speedups = opts.results_dir / "speed" / "speedups.csv"
    opts.gpu = "gpu" in opts.words
    return opts


def env_options(posargs: Sequence[str], invoked_from: Optional[str], root: Path) -> argparse.Namespace:
    """The environment sessions' options: words other than ``gpu`` are an error, and so is a
    ``--cases`` that is not a folder (refused before anything is installed)."""
    opts = parse(posargs, invoked_from, root)
    unknown_words = sorted(set(opts.words) - {"gpu"})
    if unknown_words:
        raise UsageError(f"Expected options like 'gpu' or '--select ID'. Received: {unknown_words}")
    for path in opts.pytest:
        if not (opts.invoked_from / path.split("::", 1)[0]).exists():
            raise UsageError(f"Expected --pytest to name test files, folders or node ids. Received: {path} "
                             f"({opts.invoked_from / path.split('::', 1)[0]} not found).")
    for folder in opts.cases:
        if not folder.is_dir():
            raise UsageError(f"Expected --cases to name a folder of case modules. Received: {folder} "
                             f"({'not a folder' if folder.exists() else 'not found'}).")
    return opts


def run_args(entry: Entry, opts: argparse.Namespace, venv: str, root: Path) -> List[str]:
    """``tfcanary run`` for one environment session: nox's virtual environment, results only.

    The built-in corpus records ``snapshots/`` as its snapshots; a ``--cases``
    corpus its own ``<DIR>/snapshots``.  ``--pytest`` runs a suite instead of
    the built-in corpus (beside ``--cases`` when both are given); the session
    runs it from where nox was started (pytest's rootdir).  The nightly entry
    installs the exact versions of ``nightly-pins.txt`` when the file is there.
    """
    args = ["run", "--env", entry.label, "--venv", str(venv), "--results", str(opts.results_dir),
            "--no-report", "--timeout", f"{opts.timeout:g}"]
    for folder in opts.cases or ([] if opts.pytest else [root / "cases"]):
        args += ["--cases", str(folder)]
    if not opts.cases and not opts.pytest:
        args += ["--snapshots", str(root / "snapshots")]
    for path in opts.pytest:
        args += ["--pytest", path]
    if opts.pytest_args:
        args += ["--pytest-args", opts.pytest_args]
    if opts.no_reset:
        args.append("--no-reset")
    for pattern in opts.select:
        args += ["--select", pattern]
    for name in ("shuffle", "jobs"):
        if getattr(opts, name) is not None:
            args += [f"--{name}", str(getattr(opts, name))]
    if opts.gpu:
        args.append("--gpu")
    if entry.tf == "nightly" and (root / PINS_FILE).exists():
        args += ["--pins", str(root / PINS_FILE)]
    return args


def report_args(command: str, opts: argparse.Namespace, root: Path) -> List[str]:
    """``tfcanary report`` / ``upgrade A B`` / ``check`` over ``--results-dir``, into ``reports/``."""
    reports = root / "reports"
    speed = ["--speedups", str(opts.speedups)] if opts.speedups else []
    if command == "report":
        return ["report", str(opts.results_dir), "--out", str(reports), *speed]
    if command == "upgrade":
        if len(opts.words) != 2:
            raise UsageError(f"Expected two environments: nox -s upgrade -- tf2.15 tf2.21. "
                             f"Received: {opts.words}")
        return ["upgrade", *opts.words, "--results", str(opts.results_dir), "--out", str(reports), *speed]
    if command == "check":
        # Without --snapshots, check takes the snapshots of the corpus the results came from:
        # snapshots/ for this repo's cases/, <DIR>/snapshots for a run with --cases DIR.
        return ["check", "--results", str(opts.results_dir),
                *(["--snapshots", str(opts.snapshots)] if opts.snapshots else []),
                "--junit", str(reports / "check.xml"), "--markdown", str(reports / "check.md"),
                *(["--update"] if opts.update else [])]
    raise ValueError(f"no report command {command!r}")


def speed_args(posargs: Sequence[str], root: Path) -> List[List[str]]:
    """``nox -s speed -- [LABEL ...] [--processes N ...] [--select ID] [--results-dir DIR]``:
    one ``tfcanary run --speed --no-probe`` per environment (default: the default matrix), in
    nox's environments, timing ``cases/`` and ``workloads/``."""
    from ..matrix import default

    ap = _Parser(prog="nox -s speed --", add_help=False, allow_abbrev=False)
    ap.add_argument("labels", nargs="*")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--select", action="append", default=[])
    for opt in TIMER_OPTIONS:
        ap.add_argument("--" + opt.replace("_", "-"))
    try:
        opts = ap.parse_args(list(posargs))
    except UsageError as exc:
        raise UsageError(f"Expected nox -s speed -- tf2.15 [--processes N ...]. Received: "
                         f"{' '.join(posargs)} ({exc})") from None
    timer = [a for opt in TIMER_OPTIONS if getattr(opts, opt) is not None
             for a in (f"--{opt.replace('_', '-')}", str(getattr(opts, opt)))]
    entries = [get(label) for label in opts.labels] if opts.labels else default()
    out = []
    for entry in entries:
        args = ["run", "--env", entry.label, "--venv", str(nox_venv(root, entry.label)), "--speed",
                "--no-probe", "--no-report", "--cases", str(root / "cases"), "--workloads",
                str(root / "workloads"), "--results", str((root / opts.results_dir).resolve())]
        args += [a for p in opts.select for a in ("--select", p)]
        if timer:
            args += ["--timer-args", " ".join(timer)]
        out.append(args)
    return out


def bisect_args(posargs: Sequence[str], root: Path) -> List[str]:
    """``nox -s bisect -- A B [options of tfcanary bisect] [--results-dir DIR]``: the built-in
    corpus unless ``--cases`` is given."""
    ap = _Parser(prog="nox -s bisect --", add_help=False)
    ap.add_argument("--results-dir", default="results")
    opts, rest = ap.parse_known_args(list(posargs))
    words = [w for w in rest if not w.startswith("-")]
    if len(words) < 2:
        raise UsageError(f"Expected two environments: nox -s bisect -- tf2.16 tf2.21. Received: {list(posargs)}")
    extra = [] if "--cases" in rest else ["--cases", str(root / "cases")]
    return ["bisect", *rest, "--results", str((root / opts.results_dir).resolve()), *extra]
