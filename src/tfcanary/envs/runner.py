"""``tfcanary run``: probe a corpus, and run a test suite, in chosen environments.

    tfcanary run --cases cases --env tf2.15 --env tf2.21 --with -e .
    tfcanary run --pytest tests --env tf2.15 --env tf2.21 --with -e .

The pipeline (:func:`run`): resolve the labels -> per environment
(:func:`run_env`): create or reuse it (:mod:`tfcanary.envs.install`), install
the user's packages, start the probe with :mod:`tfcanary.envs.launch`, then
with ``pytest`` the suite (pytest installed when the environment lacks it; its
outcomes merge into the same results file), record where the corpus and the
tests are, and with ``speed`` start the timer -> write
``reports/index.html`` -> print the summary.  Results and reports go to the
working directory; environments to the cache (:func:`tfcanary.envs.install.cache_dir`),
or to ``venv`` for one environment: the noxfile's environment sessions run this
same pipeline in nox's virtual environment (``--venv``, ``--no-report``).

Standard library only, but for the reports at the end (imported when written).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from .. import matrix, results
from ..errors import UsageError
from . import install as _install
from . import launch

Echo = Callable[[str], None]
INTERNAL_ERROR = 3   # the engine's exit status for its own bug (see tfcanary._engine.main)


@dataclasses.dataclass
class RunOptions:
    """What ``tfcanary run`` was asked for (the CLI's options, paths as given)."""

    cases: List[str] = dataclasses.field(default_factory=list)   # none and no pytest: ["cases"]
    labels: List[str] = dataclasses.field(default_factory=list)
    with_specs: List[str] = dataclasses.field(default_factory=list)
    select: List[str] = dataclasses.field(default_factory=list)
    results_dir: str = "results"
    reports_dir: Optional[str] = "reports"      # None: no reports and no summary (nox's sessions)
    timeout: float = 120.0
    shuffle: Optional[str] = None
    jobs: Optional[str] = None
    gpu: bool = False
    venv: Optional[str] = None                  # this virtual environment (one --env only)
    pins: Optional[str] = None                  # a pins file for the nightly entry (nightly-pins.txt)
    snapshots: Optional[str] = None             # where the corpus's snapshots live (default <cases>/snapshots)
    speed: bool = False                         # also time the fixed variants and workloads
    probe: bool = True                          # False: time only (nox -s speed)
    workloads: List[str] = dataclasses.field(default_factory=list)
    timer_args: List[str] = dataclasses.field(default_factory=list)
    cwd: Optional[str] = None                   # where relative paths start (default: the working directory)
    pytest: List[str] = dataclasses.field(default_factory=list)   # test paths or node ids (a suite)
    pytest_args: str = ""                       # more pytest arguments, one shell-quoted string
    reset: bool = True                          # the hermetic reset between tests


def case_args(cases: Sequence[os.PathLike]) -> List[str]:
    return [a for c in cases for a in ("--cases", str(c))]


def probe_options(select: Sequence[str] = (), shuffle: Optional[str] = None,
                  jobs: Optional[str] = None) -> List[str]:
    """The probe's optional arguments; ``--shuffle`` and ``--jobs`` only when given."""
    args = [a for pattern in select for a in ("--select", pattern)]
    if shuffle is not None:
        args += ["--shuffle", str(shuffle)]
    if jobs is not None:
        args += ["--jobs", str(jobs)]
    return args


def relative(path: os.PathLike, cwd: os.PathLike) -> str:
    """``path`` relative to ``cwd``, with forward slashes (as results record paths)."""
    try:
        return os.path.relpath(Path(path).resolve(), Path(cwd).resolve()).replace(os.sep, "/")
    except ValueError:   # another drive on Windows
        return str(path)


def stamp_corpus(out: os.PathLike, cases: Sequence[os.PathLike], snapshots: Optional[os.PathLike],
                 cwd: os.PathLike, with_specs: Sequence[str] = (), tests: Sequence[str] = ()) -> None:
    """Record in the results file ``out`` which corpus it came from and where its snapshots are,
    and rewrite the machine's paths out of it.

    ``corpus.paths`` (and ``corpus.pytest``, the test paths) and
    ``corpus.snapshots`` are relative to ``cwd`` (the folder the run started in,
    from which ``check`` is run too); ``snapshots`` defaults to ``<first case
    folder>/snapshots``, or ``<first test folder>/snapshots`` for a suite alone.  The working directory, the cache and
    the home folder are rewritten out of the install command, the package list
    (an editable install is listed with its path) and messages (tracebacks
    quoted in messages name the user's files): results are portable.
    """
    out = Path(out)
    if not out.exists():
        return
    doc = results.read(out)
    snaps = snapshots if snapshots is not None else default_snapshots(cases, tests, cwd)
    doc["corpus"] = {"paths": [relative(c, cwd) for c in cases], "snapshots": relative(snaps, cwd),
                     "with": list(with_specs)}
    if tests:
        doc["corpus"]["pytest"] = list(tests)
    scrub = scrubber(cwd)
    inst = doc.get("install") or {}
    if isinstance(inst.get("command"), list):
        inst["command"] = [scrub(str(a)) for a in inst["command"]]
    meta = doc.get("metadata") or {}
    if isinstance(meta.get("pip_freeze"), list):
        meta["pip_freeze"] = [scrub(str(a)) for a in meta["pip_freeze"]]
    for o in doc.get("outcomes") or []:
        if isinstance(o.get("message"), str):
            o["message"] = scrub(o["message"])
    results.write(out, doc)


def default_snapshots(cases: Sequence[os.PathLike], tests: Sequence[str], cwd: os.PathLike) -> Path:
    """``<first case folder>/snapshots``; for a suite alone ``<first test folder>/snapshots``."""
    if cases:
        return Path(cases[0]) / "snapshots"
    first = Path(cwd) / tests[0].split("::", 1)[0]
    return (first if first.is_dir() else first.parent) / "snapshots"


def scrubber(cwd: os.PathLike) -> Callable[[str], str]:
    """A function that rewrites uv's path, ``cwd``, the cache and the home folder out of a text."""
    pairs = [(str(Path(cwd).resolve()), "."), (str(_install.cache_dir()), "$TFCANARY_CACHE"),
             (str(Path.home()), "~")]
    try:     # the installer, wherever this tfcanary was installed: ``uv`` in results
        pairs.insert(0, (_install.uv_binary(), "uv"))
    except FileNotFoundError:
        pass

    def scrub(text: str) -> str:
        for old, new in pairs:
            if old and old != os.sep:
                text = text.replace(old, new)
        return text

    return scrub


def install_failed_doc(entry: matrix.Entry, inst: _install.InstallResult) -> Dict[str, Any]:
    """The results document of an environment whose install failed."""
    import platform

    return {
        "label": entry.label, "status": "install-failed", "env": entry.to_dict(),
        "install": inst.to_dict(), "message": inst.message,
        "metadata": {"python": entry.python, "platform": platform.platform(),
                     "released": entry.released},
        "cases": [], "corpus_errors": [], "outcomes": [],
    }


def resolve(labels: Sequence[str]) -> List[matrix.Entry]:
    """Matrix entries for ``labels`` (the default matrix when empty); a wrong label is a UsageError."""
    if not labels:
        return matrix.default()
    try:
        return [matrix.get(label) for label in dict.fromkeys(labels)]
    except matrix.MatrixError as exc:
        raise UsageError(f"--env: {exc}") from None


def _folders(paths: Sequence[str], cwd: Path, option: str) -> List[Path]:
    folders = [cwd / p for p in paths]
    for f in folders:
        if not f.is_dir():
            raise UsageError(f"Expected {option} to name a folder of case modules. Received: {f} "
                             f"({'not a folder' if f.exists() else 'not found'}).")
    return folders


def run(opts: RunOptions, echo: Echo = print) -> int:
    """Probe (and time) the corpus in each environment; write results, the version matrix
    and the summary.

    Returns the exit status: 0 when every environment was probed and reported
    no corpus error, 1 otherwise (a finding: a failed environment or corpus
    errors), 2 when a probe refused its arguments (nothing was written).
    """
    cwd = Path(opts.cwd).resolve() if opts.cwd else Path.cwd()
    entries = resolve(opts.labels)
    if opts.venv and len(entries) != 1:
        raise UsageError(f"Expected one --env with --venv. Received: {len(entries)} environments.")
    folders = _folders(opts.cases or ([] if opts.pytest else ["cases"]), cwd, "--cases")
    for path in opts.pytest:
        if not (cwd / path.split("::", 1)[0]).exists():
            raise UsageError(f"Expected --pytest to name test files, folders or node ids. Received: {path} "
                             f"({cwd / path.split('::', 1)[0]} not found).")
    workloads = _folders(opts.workloads, cwd, "--workloads")
    with_args = _install.with_install_args(opts.with_specs, cwd)
    for a in with_args:
        if Path(a).is_absolute() and not Path(a).exists():
            raise UsageError(f"Expected --with to name existing files or folders. Received: {a} (not found).")
    if opts.pins and not (cwd / opts.pins).is_file():
        raise UsageError(f"Expected --pins to name a pins file. Received: {cwd / opts.pins} (not found).")
    pins = matrix.read_pins(cwd / opts.pins) if opts.pins else None
    out_dir = cwd / opts.results_dir
    failed = []
    for entry in entries:
        venv = cwd / opts.venv if opts.venv else _install.cache_dir() / "envs" / entry.label
        rc = run_env(entry, venv, opts, folders, workloads, with_args, out_dir, cwd,
                     pins if entry.tf == "nightly" else None, echo)
        if rc == 2:
            return 2
        if rc:
            failed.append(entry.label)
    if opts.speed:
        from ..reports import speed

        speed_dir = out_dir / "speed"
        if any(speed_dir.glob("*.json")):
            echo(speed.render([speed_dir]).rstrip("\n"))
            echo(f"wrote {relative(speed.write_csv([speed_dir], speed_dir / 'speedups.csv'), cwd)}")
    if opts.reports_dir is not None and results.find([out_dir]):
        from ..reports import speed, summary, version_matrix

        csv = out_dir / "speed" / "speedups.csv"
        page = version_matrix.write([out_dir], cwd / opts.reports_dir,
                                    speedups=speed.read_speedups(csv) if csv.exists() else None)
        echo(f"wrote {relative(page, cwd)}")
        echo(summary.render([out_dir]).rstrip("\n"))
    if failed:
        echo(f"not complete: {', '.join(failed)}")
    return 1 if failed else 0


def run_env(entry: matrix.Entry, venv: Path, opts: RunOptions, folders: List[Path],
            workloads: List[Path], with_args: List[str], out_dir: Path, cwd: Path,
            pins: Optional[Dict[str, str]], echo: Echo) -> int:
    """Build or reuse one environment, probe the corpus in it, time it with ``opts.speed``.

    Returns 0, 1 when something failed (recorded in the results file), or 2
    when the probe refused its arguments.
    """
    out = out_dir / f"{entry.label}.json"
    try:
        python = _install.make_venv(venv, entry.python)
    except (FileNotFoundError, OSError) as exc:
        echo(f"{entry.label}: skipped: {exc}")
        return 1
    if not opts.venv:   # the cache's last-use stamp (tfcanary envs); a --venv is the user's own
        (venv / _install.USED).write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n", encoding="utf-8")
    reqs = entry.requirements(gpu=opts.gpu, pins=pins)
    echo(f"{entry.label}: installing {' '.join(reqs + list(opts.with_specs))}"
         + (f" as of {entry.exclude_newer}" if entry.exclude_newer else "") + f" into {venv}")
    inst = _install.install(entry, venv, gpu=opts.gpu, pins=pins,
                            upgrade=entry.tf == "nightly" and not pins, with_args=with_args)
    echo(f"{entry.label}: " + ("reused the installed environment" if inst.reused else
                               "installed" if inst.ok else "install failed") + f" in {inst.seconds:.1f} s")
    snapshots = cwd / opts.snapshots if opts.snapshots else None
    if inst.ok and opts.pytest and opts.probe:
        version, message = _install.ensure(python, entry, "pytest")
        echo(f"{entry.label}: pytest {version}" if version else f"{entry.label}: pytest did not install")
        if version is None:
            inst = dataclasses.replace(inst, ok=False, message=f"pytest could not be installed:\n{message}")
    if not inst.ok:
        if opts.probe:
            results.write(out, install_failed_doc(entry, inst))
            stamp_corpus(out, folders, snapshots, cwd, opts.with_specs, opts.pytest)
        echo(f"{entry.label}: install failed, recorded in {relative(out, cwd)}:\n{inst.message[-2000:]}")
        return 1
    rc = 0
    if opts.probe:
        install_doc = dict(inst.to_dict(), command=[scrubber(cwd)(a) for a in inst.command])
        common = ["--label", entry.label, "--out", str(out), "--env-json", json.dumps(entry.to_dict()),
                  "--install-json", json.dumps(install_doc), "--timeout", str(opts.timeout)]
        steps = []
        # With both a corpus and a suite, a --select pattern may name either kind of item.
        partial = ["--partial-select"] if folders and opts.pytest and opts.select else []
        if folders:
            echo(f"{entry.label}: probing {' '.join(relative(f, cwd) for f in folders)} -> {relative(out, cwd)}")
            steps.append(("probe", [*case_args(folders), *common, *partial,
                                    *probe_options(opts.select, opts.shuffle, opts.jobs)]))
        if opts.pytest:
            echo(f"{entry.label}: running pytest {' '.join(opts.pytest)} -> {relative(out, cwd)}")
            steps.append(("suite", suite_args(opts) + common + partial))
        for tool, args in steps:
            sys.stdout.flush()
            code = launch.launch(python, tool, args, env=dict(entry.env), cwd=cwd).returncode
            if code == 2:
                return 2   # refused its arguments and wrote nothing: neither do we
            if code == INTERNAL_ERROR:
                raise RuntimeError(f"the {tool} in {entry.label} stopped with an internal error (its "
                                   f"traceback is above); {relative(out, cwd)} is left as it was")
            rc = max(rc, 0 if code == 0 else 1)
        stamp_corpus(out, folders, snapshots, cwd, opts.with_specs, opts.pytest)
    if opts.speed:
        rc = max(rc, time_env(entry, python, folders + workloads, out_dir / "speed" / f"{entry.label}.json",
                              opts, cwd, echo))
    return rc


def suite_args(opts: RunOptions) -> List[str]:
    """The suite's own options: test paths, pytest's arguments, the selection, the reset."""
    args = [a for p in opts.pytest for a in ("--pytest", p)]
    if opts.pytest_args:
        args += ["--pytest-args", opts.pytest_args]
    args += [a for pattern in opts.select for a in ("--select", pattern)]
    return args + ([] if opts.reset else ["--no-reset"])


def time_env(entry: matrix.Entry, python: Path, corpus: List[Path], out: Path, opts: RunOptions,
             cwd: Path, echo: Echo) -> int:
    """Time the fixed variants (and workloads) of ``corpus`` in one built environment: 0 or 1."""
    args = [*case_args(corpus), "--label", entry.label, "--out", str(out),
            "--env-json", json.dumps(entry.to_dict()), *probe_options(opts.select), *opts.timer_args]
    echo(f"{entry.label}: timing eager vs tf.function vs XLA -> {relative(out, cwd)}")
    sys.stdout.flush()
    rc = launch.launch(python, "time", args, env=dict(entry.env), cwd=cwd).returncode
    if rc == 2:
        raise UsageError(f"the timer refused its options: {shlex.join(opts.timer_args)}")
    return 0 if rc == 0 else 1
