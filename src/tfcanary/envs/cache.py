"""The environments ``tfcanary run`` keeps in the cache: list them, remove them.

    tfcanary envs                  # label, TensorFlow, Keras, Python, size, last use, --with
    tfcanary envs --remove tf2.15  # delete one (or --all), saying what goes

Each environment is a folder ``<cache>/envs/<label>`` (:func:`tfcanary.envs.install.cache_dir`);
deleting it by hand is as good as ``--remove``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .. import matrix
from ..errors import UserError
from .install import MARKER, USED, cache_dir

_DIST_RE = re.compile(r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)\.dist-info$")
_SHOWN = {"tensorflow": "tensorflow", "tensorflow_cpu": "tensorflow", "tf_nightly": "tensorflow",
          "keras": "keras", "keras_nightly": "keras", "tf_keras": "tf_keras"}


@dataclasses.dataclass(frozen=True)
class CachedEnv:
    label: str
    path: Path
    python: str
    tensorflow: str
    keras: str
    size_bytes: int
    last_used: Optional[str]
    with_specs: List[str]

    def to_dict(self) -> Dict[str, object]:
        return {**dataclasses.asdict(self), "path": str(self.path)}


def root() -> Path:
    return cache_dir() / "envs"


def _versions(venv: Path) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for site in venv.glob("lib/python*/site-packages"):
        found["python"] = site.parent.name.replace("python", "")
        for d in site.glob("*.dist-info"):
            m = _DIST_RE.match(d.name)
            if m and m.group("name").lower() in _SHOWN:
                found[_SHOWN[m.group("name").lower()]] = m.group("version")
    return found


def _size(path: Path) -> int:
    """Bytes on disk under ``path``, each hard-linked file counted once."""
    total, seen = 0, set()
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def _last_used(venv: Path) -> Optional[str]:
    marker = venv / USED
    if not marker.exists():
        return None
    stamp = _dt.datetime.fromtimestamp(marker.stat().st_mtime).astimezone()
    return stamp.isoformat(timespec="minutes")


def _with(venv: Path) -> List[str]:
    try:
        return list(json.loads((venv / MARKER).read_text(encoding="utf-8")).get("with", []))
    except (OSError, ValueError):
        return []


def entries() -> List[CachedEnv]:
    """The cached environments, by label."""
    base = root()
    if not base.is_dir():
        return []
    out = []
    for venv in matrix.order(sorted(p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name):
        if venv.name == "bisect":       # tfcanary bisect's: one environment per point probed
            inner = [p for p in venv.iterdir() if (p / "pyvenv.cfg").exists()] if venv.is_dir() else []
            count = f"{len(inner)} environment{'' if len(inner) == 1 else 's'}"
            out.append(CachedEnv(venv.name, venv, "-", count, "-", _size(venv), _last_used(venv), []))
            continue
        v = _versions(venv)
        tf_keras = v.get("tf_keras")
        out.append(CachedEnv(venv.name, venv, v.get("python", "?"), v.get("tensorflow", "-"),
                             f"tf-keras {tf_keras}" if tf_keras else v.get("keras", "-"),
                             _size(venv), _last_used(venv), _with(venv)))
    return out


def human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def render(found: Sequence[CachedEnv]) -> str:
    lines = [f"environments in {root()}:"]
    if not found:
        return lines[0] + " none (tfcanary run builds them)\n"
    lines.append(f"{'label':<18} {'python':<7} {'tensorflow':<20} {'keras':<20} {'size':>10}  "
                 f"{'last use':<22} with")
    for e in found:
        lines.append(f"{e.label:<18} {e.python:<7} {e.tensorflow:<20} {e.keras:<20} "
                     f"{human(e.size_bytes):>10}  {e.last_used or '-':<22} {' '.join(e.with_specs) or '-'}")
    total = sum(e.size_bytes for e in found)
    lines.append(f"{len(found)} environments, {human(total)} (hard links to the uv cache counted once per environment)")
    return "\n".join(lines) + "\n"


def remove(labels: Sequence[str], everything: bool = False,
           echo: Callable[[str], None] = lambda line: None) -> List[Path]:
    """Delete the named environments (all with ``everything``); a label not cached is a UserError.

    ``echo`` is told what goes before it goes, with its size.  An entry that is a
    symbolic link (an environment kept elsewhere and linked into the cache) loses
    the link only: what it points to is not the cache's to delete.
    """
    found = {e.label: e for e in entries()}
    if everything:
        targets = list(found.values())
        if not targets:
            echo(f"nothing to remove: no environments in {root()}")
    else:
        targets = []
        for label in labels:
            if label not in found:
                close = difflib.get_close_matches(label, list(found), n=3, cutoff=0.6)
                hint = (" Did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else ""
                raise UserError(f"Expected a cached environment (one of: {', '.join(found) or 'none'}). "
                                f"Received: {label!r}.{hint}")
            targets.append(found[label])
    removed = []
    for e in targets:
        if e.path.is_symlink():
            echo(f"removing the link {e.path} (to {os.readlink(e.path)}, which is left as it is)")
            e.path.unlink()
        else:
            echo(f"removing {e.label}: {e.path} ({human(e.size_bytes)})")
            shutil.rmtree(e.path)
        removed.append(e.path)
    return removed
