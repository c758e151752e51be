"""``tfcanary run``: probe a user's own corpus in chosen environments, from their repository.

    tfcanary run --cases cases --env tf2.15 --env tf2.21 --with -e .

The pipeline: resolve the labels -> copy the probe's sources into the cache ->
for each environment: create or reuse it (:mod:`tfcanary.envs`, the code nox
uses), install the user's packages, probe, record where the corpus is -> write
``reports/index.html`` -> print the summary.  Results and reports go to the
working directory; environments to :func:`tfcanary.envs.cache_dir`.

The helpers that build the probe's command line and record the corpus in a
results file are shared with the noxfile, so they use the standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import envs, matrix, results
from .errors import UserError

USED = "tfcanary-last-use"   # touched in an environment each time a run uses it


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


def _relative(path: os.PathLike, cwd: os.PathLike) -> str:
    try:
        return os.path.relpath(Path(path).resolve(), Path(cwd).resolve()).replace(os.sep, "/")
    except ValueError:   # another drive on Windows
        return str(path)


def stamp_corpus(out: os.PathLike, cases: Sequence[os.PathLike], snapshots: Optional[os.PathLike],
                 cwd: os.PathLike, with_specs: Sequence[str] = (), portable: bool = False) -> None:
    """Record in the results file ``out`` which corpus it came from and where its snapshots are.

    ``corpus.paths`` and ``corpus.snapshots`` are relative to ``cwd`` (the folder
    the run started in, from which ``check`` is run too); ``snapshots`` defaults
    to ``<first case folder>/snapshots``.  ``portable`` also rewrites the
    working directory and the home folder out of the install command and the
    package list (an editable install is listed with its path).
    """
    out = Path(out)
    if not out.exists():
        return
    doc = results.read(out)
    snaps = snapshots if snapshots is not None else Path(cases[0]) / "snapshots"
    doc["corpus"] = {"paths": [_relative(c, cwd) for c in cases], "snapshots": _relative(snaps, cwd),
                     "with": list(with_specs)}
    if portable:
        scrub = _scrubber(cwd)
        inst = doc.get("install") or {}
        if isinstance(inst.get("command"), list):
            inst["command"] = [scrub(str(a)) for a in inst["command"]]
        meta = doc.get("metadata") or {}
        if isinstance(meta.get("pip_freeze"), list):
            meta["pip_freeze"] = [scrub(str(a)) for a in meta["pip_freeze"]]
        for o in doc.get("outcomes") or []:   # tracebacks quoted in messages name the user's files
            if isinstance(o.get("message"), str):
                o["message"] = scrub(o["message"])
    results.write(out, doc)


def _scrubber(cwd: os.PathLike) -> Callable[[str], str]:
    pairs = [(str(Path(cwd).resolve()), "."), (str(envs.cache_dir()), "$TFCANARY_CACHE"),
             (str(Path.home()), "~")]

    def scrub(text: str) -> str:
        for old, new in pairs:
            if old and old != os.sep:
                text = text.replace(old, new)
        return text

    return scrub


def install_failed_doc(entry: matrix.Entry, inst: envs.InstallResult) -> Dict[str, Any]:
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
    """Matrix entries for ``labels`` (the default matrix when empty); a wrong label is a UserError."""
    if not labels:
        return matrix.default()
    try:
        return [matrix.get(label) for label in dict.fromkeys(labels)]
    except matrix.MatrixError as exc:
        raise UserError(f"--env: {exc}") from None


def engine(package: Optional[Path] = None) -> Path:
    """The probe script, from a private copy of tfcanary's modules in the cache.

    The probe and its worker run by path in each environment and put the folder
    above their own on ``sys.path``.  In an installed tfcanary that folder is the
    host's site-packages, whose pandas and numpy must not reach a TensorFlow
    environment: so they run from a copy that holds tfcanary alone.  The copy is
    keyed by the modules' content and reused.
    """
    package = package or Path(__file__).resolve().parent
    modules = sorted(package.glob("*.py"))
    digest = hashlib.sha256()
    for m in modules:
        digest.update(m.name.encode() + m.read_bytes())
    home = envs.cache_dir() / "engine" / digest.hexdigest()[:16]
    if not (home / "tfcanary" / "_probe.py").exists():
        tmp = home.parent / f".{home.name}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "tfcanary").mkdir(parents=True)
        for m in modules:
            shutil.copy2(m, tmp / "tfcanary" / m.name)
        try:
            os.replace(tmp, home)
        except OSError:   # another run made it first
            shutil.rmtree(tmp, ignore_errors=True)
    return home / "tfcanary" / "_probe.py"


def run(cases: Sequence[str], labels: Sequence[str] = (), with_specs: Sequence[str] = (),
        select: Sequence[str] = (), results_dir: str = "results", reports_dir: str = "reports",
        timeout: float = 120.0, shuffle: Optional[str] = None, jobs: Optional[str] = None,
        gpu: bool = False, echo: Callable[[str], None] = print) -> int:
    """Probe ``cases`` in each environment; write results, the version matrix and the summary.

    Returns the exit status: 0 when every environment was probed and reported
    no corpus error, 1 otherwise (a UserError is 2).
    """
    cwd = Path.cwd()
    entries = resolve(labels)
    folders = [cwd / c for c in (cases or ["cases"])]
    for f in folders:
        if not f.is_dir():
            raise UserError(f"Expected --cases to name a folder of case modules. Received: {f} "
                            f"({'not a folder' if f.exists() else 'not found'}).")
    with_args = envs.with_install_args(with_specs, cwd)
    for a in with_args:
        if Path(a).is_absolute() and not Path(a).exists():
            raise UserError(f"Expected --with to name existing files or folders. Received: {a} (not found).")
    probe = engine()
    out_dir = cwd / results_dir
    failed = []
    for entry in entries:
        if not _run_env(entry, probe, folders, with_specs, with_args, out_dir, cwd,
                        probe_options(select, shuffle, jobs), timeout, gpu, echo):
            failed.append(entry.label)
    from . import report, summary

    if results.find([out_dir]):
        path = report.write_matrix([out_dir], cwd / reports_dir)
        echo(f"wrote {_relative(path, cwd)}")
        echo(summary.render([out_dir]).rstrip("\n"))
    if failed:
        echo(f"not complete: {', '.join(failed)}")
    return 1 if failed else 0


def _run_env(entry: matrix.Entry, probe: Path, folders: List[Path], with_specs: Sequence[str],
             with_args: List[str], out_dir: Path, cwd: Path, options: List[str], timeout: float,
             gpu: bool, echo: Callable[[str], None]) -> bool:
    """Build or reuse one environment and probe the corpus in it; False when something failed."""
    venv = envs.cache_dir() / "envs" / entry.label
    out = out_dir / f"{entry.label}.json"
    try:
        python = envs.make_venv(venv, entry.python)
    except (FileNotFoundError, OSError) as exc:
        echo(f"{entry.label}: skipped: {exc}")
        return False
    (venv / USED).write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z") + "\n", encoding="utf-8")
    reqs = entry.requirements(gpu=gpu)
    echo(f"{entry.label}: installing {' '.join(reqs + list(with_specs))} into {venv}")
    inst = envs.install(entry, venv, gpu=gpu, upgrade=entry.tf == "nightly", with_args=with_args)
    echo(f"{entry.label}: " + ("reused the installed environment" if inst.reused else
                               "installed" if inst.ok else "install failed") + f" in {inst.seconds:.1f} s")
    if not inst.ok:
        results.write(out, install_failed_doc(entry, inst))
        stamp_corpus(out, folders, None, cwd, with_specs, portable=True)
        echo(f"{entry.label}: install failed, recorded in {_relative(out, cwd)}:\n{inst.message[-2000:]}")
        return False
    install_doc = dict(inst.to_dict(), command=[_scrubber(cwd)(a) for a in inst.command])
    args = [str(python), str(probe), *case_args(folders), "--label", entry.label, "--out", str(out),
            "--env-json", json.dumps(entry.to_dict()), "--install-json", json.dumps(install_doc),
            "--timeout", str(timeout), *options]
    echo(f"{entry.label}: probing {' '.join(_relative(f, cwd) for f in folders)} -> {_relative(out, cwd)}")
    sys.stdout.flush()
    proc = subprocess.run(args, env={**os.environ, **dict(entry.env)}, cwd=cwd)
    stamp_corpus(out, folders, None, cwd, with_specs, portable=True)
    return proc.returncode == 0
