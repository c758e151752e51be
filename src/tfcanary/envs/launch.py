"""The one launcher: the only code that starts the engine in an environment.

    from tfcanary.envs import launch
    launch.launch(python, "probe", ["--cases", "cases", "--label", "tf2.15", "--out", "r.json"])

Every caller (the noxfile's sessions through ``tfcanary run``, ``tfcanary run``
itself, bisect, the timer, asv's benchmarks, the nightly) goes through
:func:`command`, so a fix here fixes them all.

The engine (:mod:`tfcanary._engine`) runs with the environment's interpreter and
must see nothing of the host's packages.  It is started from a private copy
that holds tfcanary's engine-side modules alone (:data:`ENGINE_MODULES` and
``_engine/``), kept in the cache (:func:`engine_root`) and keyed by their
content: run from an installed tfcanary, the folder above the package is the
host's site-packages, whose numpy would shadow the environment's (TensorFlow
2.16 then fails to import).  The copy also enforces the boundary: an engine
module that imported a host module would fail there, in every test.

``PYTHONPATH`` and ``PYTHONHOME`` are not passed on, for the same reason; the
environment's own packages (and what ``--with`` installed) are all it sees.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from .install import cache_dir

PACKAGE = Path(__file__).resolve().parent.parent
# The modules of tfcanary the engine imports, beside _engine/ itself (tests/test_layout.py
# checks that the engine imports nothing else).
ENGINE_MODULES = ("__init__.py", "case.py", "corpus.py", "errors.py", "fingerprint.py", "names.py",
                  "outcome.py", "results.py")
ENGINE_PACKAGE = "_engine"
MAIN = f"tfcanary/{ENGINE_PACKAGE}/main.py"
TOOLS = ("probe", "time", "suite")
_KEEP_DAYS = 30          # engine copies of other tfcanary versions unused this long are removed
_HOST_VARIABLES = ("PYTHONPATH", "PYTHONHOME")


def engine_files(package: Path = PACKAGE) -> List[Path]:
    """The files of the engine's copy, relative to ``package`` (tfcanary's folder)."""
    files = [Path(m) for m in ENGINE_MODULES]
    files += sorted(p.relative_to(package) for p in (package / ENGINE_PACKAGE).glob("*.py"))
    return files


def engine_root(package: Path = PACKAGE, cache: Optional[Path] = None) -> Path:
    """A folder holding a copy of tfcanary's engine-side modules alone; made once per content.

    The folder is ``<cache>/engine/<digest>``, made atomically (copied aside,
    then renamed), so concurrent runs share it.  Copies of other versions left
    unused for :data:`_KEEP_DAYS` days are removed.
    """
    files = engine_files(package)
    digest = hashlib.sha256()
    for rel in files:
        digest.update(rel.as_posix().encode() + b"\0" + (package / rel).read_bytes() + b"\0")
    base = (cache or cache_dir()) / "engine"
    home = base / digest.hexdigest()[:16]
    if not (home / MAIN).exists():
        tmp = base / f".{home.name}.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        for rel in files:
            (tmp / "tfcanary" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(package / rel, tmp / "tfcanary" / rel)
        try:
            os.replace(tmp, home)
        except OSError:   # another run made it first
            shutil.rmtree(tmp, ignore_errors=True)
        _prune(base, keep=home)
    else:
        os.utime(home)
    return home


def _prune(base: Path, keep: Path) -> None:
    cutoff = time.time() - _KEEP_DAYS * 86400
    for old in base.iterdir():
        try:
            if old != keep and old.is_dir() and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def command(python: os.PathLike, tool: str, args: Sequence[str] = (),
            root: Optional[Path] = None) -> List[str]:
    """The command line that runs engine ``tool`` (``probe``, ``time``, ``suite``) with ``python``."""
    if tool not in TOOLS:
        raise ValueError(f"Expected an engine tool, one of {TOOLS}. Received: {tool!r}")
    return [str(python), str((root or engine_root()) / MAIN), tool, *map(str, args)]


def environ(extra: Optional[Mapping[str, str]] = None,
            base: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The engine's environment variables: ``base`` (this process's) with ``extra`` on top,
    and without the variables that would put host packages on its path."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _HOST_VARIABLES}
    env.update(extra or {})
    return env


def launch(python: os.PathLike, tool: str, args: Sequence[str] = (), *,
           env: Optional[Mapping[str, str]] = None, cwd: Optional[os.PathLike] = None,
           capture: bool = False, timeout: Optional[float] = None) -> subprocess.CompletedProcess:
    """Run engine ``tool`` with the environment interpreter ``python`` and wait for it.

    ``env``: variables on top of this process's (a matrix entry's
    ``TF_USE_LEGACY_KERAS``).  ``capture`` collects stdout and stderr as text;
    otherwise the engine writes to this process's.
    """
    return subprocess.run(command(python, tool, args), env=environ(env), cwd=cwd,
                          capture_output=capture, text=True, timeout=timeout)
