"""Create and reuse one environment per matrix entry, and install it with uv.

:func:`install` puts a matrix entry's packages into a virtual environment (nox's
for the noxfile's sessions, one in the cache for ``tfcanary run`` and bisect);
the result says whether the install was reused, how long it took, and on
failure the installer's message, which is recorded as an ``install-failed``
results file so the other environments still run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..matrix import Entry

MARKER = "tfcanary-install.json"
USED = "tfcanary-last-use"   # touched in an environment each time a run uses it
CACHE_ENV_VAR = "TFCANARY_CACHE"


def cache_dir() -> Path:
    """Where environments built outside nox live (``tfcanary run``, ``tfcanary bisect``).

    ``$TFCANARY_CACHE`` when set, else ``$XDG_CACHE_HOME/tfcanary`` (``~/.cache/tfcanary``).
    Each environment is a folder below ``envs/``; deleting it frees the space.
    """
    explicit = os.environ.get(CACHE_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "tfcanary"


def nox_venv(root: os.PathLike, label: str) -> Path:
    """Where nox keeps the environment of ``label`` under the project ``root``
    (nox turns the ``.`` of a session name into ``-``)."""
    return Path(root) / ".nox" / label.replace(".", "-")


def venv_python(venv: os.PathLike) -> Path:
    """The interpreter of a virtual environment."""
    return Path(venv) / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def make_venv(venv: os.PathLike, python_version: str) -> Path:
    """Create ``venv`` with uv for ``python_version`` unless it exists; return its interpreter.

    A Python on this machine is used when there is one (:func:`find_interpreter`);
    otherwise uv provides one of its managed CPython builds, downloading it when
    uv may (not with ``UV_PYTHON_DOWNLOADS=never`` or ``UV_OFFLINE=1``, nor without
    the network).  When neither works, a :class:`FileNotFoundError` names the
    version and says why.
    """
    python = venv_python(venv)
    if python.exists():
        return python
    interpreter = find_interpreter(python_version)
    proc = subprocess.run([uv_binary(), "venv", "--quiet", "--python", interpreter or python_version, str(venv)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        why = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        if interpreter is None:
            raise FileNotFoundError(
                f"Python interpreter {python_version} not found, and uv could not provide one "
                f"({why[-1] if why else 'no message'}). Install Python {python_version}, or let uv "
                f"download it (it needs the network; UV_PYTHON_DOWNLOADS=never or UV_OFFLINE=1 forbid it).")
        raise OSError(f"uv venv {venv} failed: {(proc.stderr or proc.stdout).strip()}")
    return python


def find_interpreter(version: str) -> Optional[str]:
    """A working ``pythonX.Y`` on this machine, or None.

    Candidates that exist but do not run (a pyenv shim for an inactive version)
    are passed over: each one is asked for its version.
    """
    candidates: List[str] = []
    for name in (f"python{version}", "python3", "python"):
        path = shutil.which(name)
        if path:
            candidates.append(path)
    uv = shutil.which("uv")
    if uv:
        try:
            found = subprocess.run([uv, "python", "find", "--no-python-downloads", version],
                                   capture_output=True, text=True, timeout=30)
            if found.returncode == 0 and found.stdout.strip():
                candidates.append(found.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    for path in candidates:
        try:
            out = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == version:
            return path
    return None


def uv_binary() -> str:
    """The uv that nox[uv] installed beside nox, else the one on PATH."""
    here = Path(sys.executable).parent
    for cand in (here / "uv", here / "uv.exe"):
        if cand.exists():
            return str(cand)
    try:
        import uv  # type: ignore

        return uv.find_uv_bin()
    except Exception:  # the uv Python package is optional
        pass
    path = shutil.which("uv")
    if not path:
        raise FileNotFoundError("uv not found: install it with `python3 -m pip install 'nox[uv]'`")
    return path


@dataclasses.dataclass
class InstallResult:
    ok: bool
    reused: bool
    seconds: float
    command: List[str]
    requirements: List[str]
    message: str = ""

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)


def install_spec(entry: Entry, requirements: Sequence[str]) -> Dict[str, object]:
    """What decides whether an existing environment can be reused as it is."""
    return {"label": entry.label, "requirements": list(requirements),
            "exclude_newer": entry.exclude_newer, "python": entry.python}


def _spec_hash(spec: Dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def install(entry: Entry, venv: os.PathLike, gpu: bool = False,
            pins: Optional[Dict[str, str]] = None, upgrade: bool = False,
            with_args: Sequence[str] = ()) -> InstallResult:
    """Install ``entry``'s packages into ``venv`` with uv, or reuse what is there.

    The environment is reused when its marker records the same requirements
    (and, for as-released entries, the same cut-off day).  ``upgrade`` forces a
    fresh resolve (nightly without pins).  When the requirements changed (CPU
    to GPU build, say) everything installed is removed first, since
    ``tensorflow`` and ``tensorflow-cpu`` write the same files.

    ``with_args`` are the user's own packages, as ``uv pip install`` arguments
    with absolute paths (see :func:`with_install_args`); they are part of the
    marker, with what their local files say (:func:`with_fingerprint`).
    """
    venv = Path(venv)
    python = venv_python(venv)
    reqs = entry.requirements(gpu=gpu, pins=pins)
    spec = install_spec(entry, reqs)
    if with_args:
        spec["with"] = list(with_args)
        spec["with_files"] = with_fingerprint(with_args)
    marker = venv / MARKER
    uv = uv_binary()
    cmd = [uv, "pip", "install", "--python", str(python)]
    if entry.exclude_newer:
        cmd += ["--exclude-newer", entry.exclude_newer]
    if upgrade:
        cmd += ["--upgrade"]
    if entry.tf == "nightly":
        cmd += ["--prerelease", "allow"]
    cmd += reqs
    t0 = time.perf_counter()
    previous = None
    if marker.exists():
        try:
            previous = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = None
    if previous and previous.get("hash") == _spec_hash(spec) and not upgrade:
        return InstallResult(True, True, round(time.perf_counter() - t0, 2), cmd, reqs)
    if previous:
        _empty(uv, python)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = round(time.perf_counter() - t0, 2)
    if proc.returncode != 0:
        if marker.exists():
            marker.unlink()
        message = (proc.stderr or proc.stdout).strip()
        return InstallResult(False, False, seconds, cmd, reqs, message)
    if with_args:
        user = install_with(uv, python, entry, with_args)
        seconds = round(time.perf_counter() - t0, 2)
        cmd = cmd + ["&&"] + user.args
        if user.returncode != 0:
            return InstallResult(False, False, seconds, cmd, reqs,
                                 (user.stderr or user.stdout).strip())
    marker.write_text(json.dumps({"hash": _spec_hash(spec), **spec}, indent=1), encoding="utf-8")
    return InstallResult(True, False, seconds, cmd, reqs)


# --- the user's own packages (tfcanary run --with) ----------------------------------------

_PATH_OPTIONS = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")


def with_install_args(specs: Sequence[str], cwd: os.PathLike) -> List[str]:
    """``--with`` specs (``-e .``, ``-r requirements.txt``, ``mypkg==1.2``, ``./pkg``) as
    ``uv pip install`` arguments, local paths made absolute from ``cwd``.

    A spec is split like a shell word list; the word after ``-e``/``-r``/``-c``
    and a word that names an existing file or folder (or starts with ``.``,
    ``/`` or ``~``) is a path.
    """
    import shlex

    out: List[str] = []
    for spec in specs:
        words = shlex.split(spec)
        i = 0
        while i < len(words):
            w = words[i]
            if w in _PATH_OPTIONS and i + 1 < len(words):
                out += [w, _local(words[i + 1], cwd)]
                i += 2
                continue
            out.append(w if w.startswith("-") else _local(w, cwd))
            i += 1
    return out


def _local(word: str, cwd: os.PathLike) -> str:
    if "://" in word or word.startswith("git+"):
        return word
    path = Path(word).expanduser()
    candidate = path if path.is_absolute() else Path(cwd) / path
    if word.startswith((".", "/", "~")) or candidate.exists():
        return str(candidate.resolve())
    return word


def with_fingerprint(args: Sequence[str]) -> Dict[str, str]:
    """What the local files among ``args`` say, so that a change reinstalls.

    A requirements or constraints file: its content.  An editable project: its
    metadata files (pyproject.toml, setup.cfg, setup.py), since the code itself
    stays live.  Any other local folder or file is copied at install time: the
    sizes and times of its files.
    """
    out: Dict[str, str] = {}
    prev = ""
    for w in args:
        p = Path(w)
        if w.startswith("-") or not p.is_absolute():
            prev = w
            continue
        h = hashlib.sha256()
        if prev in ("-e", "--editable"):
            for name in ("pyproject.toml", "setup.cfg", "setup.py"):
                if (p / name).is_file():
                    h.update(name.encode() + (p / name).read_bytes())
        elif p.is_file():
            h.update(p.read_bytes())
        elif p.is_dir():
            for f in sorted(_tree(p)):
                st = f.stat()
                h.update(f"{f.relative_to(p)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        out[w] = h.hexdigest()[:16]
        prev = w
    return out


def _tree(root: Path, limit: int = 20000) -> List[Path]:
    """Files under ``root``, without hidden folders, caches and virtual environments."""
    files: List[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__pycache__"))
                       and not (Path(dirpath) / d / "pyvenv.cfg").exists()]
        files.extend(Path(dirpath) / f for f in filenames)
        if len(files) > limit:
            break
    return files


def install_with(uv: str, python: Path, entry: Entry,
                 with_args: Sequence[str]) -> subprocess.CompletedProcess:
    """Install the user's packages on top of ``entry``'s, holding TensorFlow and Keras.

    No ``--exclude-newer`` here: the user's own pins are real, whatever day
    TensorFlow was released.  The packages the entry names keep the versions
    just installed (a constraints file), so a user requirement can never
    replace the TensorFlow under test; one that conflicts with it fails.
    """
    import tempfile

    names = {r.split("[")[0].split("=")[0].split(">")[0].split("<")[0].lower()
             for r in entry.requirements()}
    frozen = subprocess.run([uv, "pip", "freeze", "--python", str(python)],
                            capture_output=True, text=True)
    held = [ln for ln in frozen.stdout.splitlines()
            if ln.split("==")[0].lower().replace("_", "-") in names]
    fd, constraints = tempfile.mkstemp(prefix="tfcanary-hold-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(held) + "\n")
        args = [uv, "pip", "install", "--python", str(python), "-c", constraints, *with_args]
        if entry.tf == "nightly":
            args += ["--prerelease", "allow"]
        proc = subprocess.run(args, capture_output=True, text=True)
        proc.args = [a if a != constraints else "<held: " + " ".join(held) + ">" for a in args]
        return proc
    finally:
        os.unlink(constraints)


def installed_version(python: os.PathLike, name: str) -> Optional[str]:
    """The version of distribution ``name`` in the environment of ``python``, or None."""
    proc = subprocess.run([uv_binary(), "pip", "show", "--python", str(python), name],
                          capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def ensure(python: os.PathLike, entry: Entry, requirement: str) -> Tuple[Optional[str], str]:
    """Install ``requirement`` (``pytest``) unless the environment already has it (the
    user's ``--with`` may pin it), holding TensorFlow and Keras as :func:`install_with` does.

    Returns (the version now installed or None, the installer's message when it failed).
    It is not part of the environment's marker: a run without it reuses the environment.
    """
    name = re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0]
    found = installed_version(python, name)
    if found:
        return found, ""
    proc = install_with(uv_binary(), Path(python), entry, [requirement])
    if proc.returncode != 0:
        return None, (proc.stderr or proc.stdout).strip()
    return installed_version(python, name), ""


def _empty(uv: str, python: Path) -> None:
    frozen = subprocess.run([uv, "pip", "freeze", "--python", str(python)],
                            capture_output=True, text=True)
    names = [line.split("==")[0].split(" @ ")[0] for line in frozen.stdout.splitlines() if line.strip()]
    if names:
        subprocess.run([uv, "pip", "uninstall", "--python", str(python), *names],
                       capture_output=True, text=True)
