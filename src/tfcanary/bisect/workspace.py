"""Environments for the points of a path, and the probe run in them.

:class:`Workspace` builds (or reuses) one environment per point under
``<cache>/envs/bisect/`` (:func:`tfcanary.envs.install.cache_dir`), installs
the user's own packages into it (``--with``) and starts the probe there with
:func:`tfcanary.envs.launch.launch`, the same launcher as every other command.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from .. import results
from ..envs import index as _index
from ..envs import install as _install
from ..envs import launch
from ..matrix import DEFAULT_PYTHON, Entry
from .path import Key, Pins, pins_text


def _entry(pins: Pins) -> Tuple[Entry, Dict[str, str]]:
    """The matrix entry (and nightly pins) that installs exactly ``pins`` with :func:`tfcanary.envs.install.install`.

    ``tensorflow`` is installed as ``tensorflow-cpu`` of the same version: the same code, without
    the CUDA libraries (see ``Entry.requirements``).
    """
    (tf_pkg, tf_v), (k_pkg, k_v) = pins[0], pins[1]
    extra = tuple(f"{p}=={v}" for p, v in pins[2:])
    env = (("TF_USE_LEGACY_KERAS", "1"),) if any(p == "tf-keras" for p, _ in pins[2:]) else ()
    flavour = "tf-keras" if env else ("keras2" if _index.version_key(k_v) < (0, (3,)) else "keras3")
    if tf_pkg.startswith("tf-nightly"):
        if k_pkg != "keras-nightly":
            extra = (f"{k_pkg}=={k_v}",) + extra
        nightly = {"tf-nightly": tf_v, **({k_pkg: k_v} if k_pkg == "keras-nightly" else {})}
        return Entry("bisect", "nightly", flavour, extra=extra, env=env), nightly
    if k_pkg != "keras":
        extra = (f"{k_pkg}=={k_v}",) + extra
    return Entry("bisect", tf_v, flavour, keras=f"=={k_v}" if k_pkg == "keras" else None,
                 extra=extra, env=env), {}


def env_name(pins: Pins, python: str) -> str:
    text = "-".join(f"{p}-{v}" for p, v in pins)
    return f"py{python}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", text)


@dataclasses.dataclass
class PointRun:
    """What happened at one point: built or reused, probed, or why not."""

    state: str = "not-probed"      # probed | install-failed | probe-failed | not-probed
    message: str = ""
    install_s: float = 0.0
    reused: bool = False
    probes: int = 0
    probe_s: float = 0.0

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)


class Workspace:
    """Environments for points of a path, and the probe run in them.

    ``with_args``: the user's own packages (``uv pip install`` arguments with
    absolute paths, :func:`tfcanary.envs.install.with_install_args`), installed
    at every point with TensorFlow and Keras held; environments built with them
    are kept apart from those built without.  ``tests``: a suite's paths: the
    tests among the keys run with pytest (installed where missing), merged into
    the same results as the cases.  Both run in ``cwd`` (the folder the
    bisection was started in: pytest's rootdir).
    """

    def __init__(self, cases: Sequence[str], python: str = DEFAULT_PYTHON, timeout: float = 120.0,
                 root: Optional[Path] = None, log=print, with_args: Sequence[str] = (),
                 cwd: Optional[Path] = None, tests: Sequence[str] = (), pytest_args: str = "",
                 reset: bool = True) -> None:
        self.cases = [str(Path(c).resolve()) for c in cases]
        self.python = python
        self.timeout = timeout
        self.root = root or _install.cache_dir() / "envs" / "bisect"
        self.log = log
        self.with_args = list(with_args)
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.tests, self.pytest_args, self.reset = list(tests), pytest_args, reset
        self.runs: Dict[Pins, PointRun] = {}
        self._pythons: Dict[Pins, Path] = {}

    def venv(self, pins: Pins) -> Path:
        name = env_name(pins, self.python)
        if self.with_args:
            digest = hashlib.sha256(json.dumps(self.with_args).encode()).hexdigest()[:8]
            name += f"-with-{digest}"
        return self.root / name

    def _install(self, pins: Pins) -> Optional[Path]:
        if pins in self._pythons:            # installed (or found installed) earlier in this run
            return self._pythons[pins]
        run = self.runs.setdefault(pins, PointRun())
        venv = self.venv(pins)
        entry, nightly_pins = _entry(pins)
        try:
            python = _install.make_venv(venv, self.python)
        except (OSError, FileNotFoundError) as exc:
            run.state, run.message = "install-failed", str(exc)
            return None
        inst = _install.install(entry, venv, pins=nightly_pins or None, with_args=self.with_args)
        run.install_s, run.reused = inst.seconds, inst.reused
        if inst.ok and self.tests:
            version, message = _install.ensure(python, entry, "pytest")
            if version is None:
                inst.ok, inst.message = False, f"pytest could not be installed:\n{message}"
        if not inst.ok:
            run.state, run.message = "install-failed", inst.message[-3000:]
            shutil.rmtree(venv, ignore_errors=True)
            return None
        self._pythons[pins] = python
        return python

    def probe(self, pins: Pins, keys: Sequence[Key],
              everything: bool = False) -> Optional[Dict[Key, Dict[str, object]]]:
        """The outcomes of ``keys``' cases and tests at ``pins`` (``everything``: the whole corpus
        and suite), or None when it cannot be installed or probed."""
        run = self.runs.setdefault(pins, PointRun())
        if run.state in ("install-failed", "probe-failed"):
            return None
        python = self._install(pins)
        if python is None:
            self.log(f"  {pins_text(pins)}: could not be installed")
            return None
        entry, _ = _entry(pins)
        work = Path(tempfile.mkdtemp(prefix="tfcanary-bisect-"))
        try:
            out = work / "out.json"
            common = ["--label", env_name(pins, self.python), "--out", str(out),
                      "--timeout", str(self.timeout), "--env-json", json.dumps(entry.to_dict())]
            tests = sorted({k[0] for k in keys if k[1] == "test"})
            cases = sorted({k[0] for k in keys if k[1] != "test"})
            steps = []
            if cases or (everything and self.cases):
                steps.append(("probe", common + [a for c in self.cases for a in ("--cases", c)]
                              + [a for c in cases for a in ("--select", c)]))
            if tests or (everything and self.tests):
                steps.append(("suite", common + [a for p in self.tests for a in ("--pytest", p)]
                              + (["--pytest-args", self.pytest_args] if self.pytest_args else [])
                              + ([] if self.reset else ["--no-reset"]) + ["--no-progress"]
                              + [a for t in tests for a in ("--select", t)]))
            t0 = time.perf_counter()
            proc = None
            for tool, args in steps:
                proc = launch.launch(python, tool, args, env=dict(entry.env), cwd=self.cwd, capture=True)
                if proc.returncode not in (0, 1):
                    break
            run.probe_s += round(time.perf_counter() - t0, 2)
            run.probes += 1
            doc = results.read(out) if out.exists() else None
            if doc is None or doc.get("status") != "ok":
                run.state = "probe-failed"
                said = (proc.stderr or proc.stdout or "") if proc is not None else ""
                run.message = ((doc or {}).get("message") or said)[-3000:]
                self.log(f"  {pins_text(pins)}: probe failed")
                return None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        run.state = "probed"
        return {(o["case"], o["variant"], o["mode"]): o for o in doc["outcomes"]}
