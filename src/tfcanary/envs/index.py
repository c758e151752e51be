"""The package index: which versions of a package exist, when each was uploaded.

:func:`releases` asks the simple repository API (PEP 503/691) of the index uv
and pip use (``$UV_INDEX_URL``, else ``$PIP_INDEX_URL``, else PyPI) for one
package and returns its versions in version order, each with its upload time
and whether it can be installed here (a wheel for this Python and platform, or
a pure-Python one).  Yanked files are dropped; pre-releases and dev builds are
kept only when asked for (the nightly packages are nothing but dev builds).
The JSON form (PEP 691, ``application/vnd.pypi.simple.v1+json``) is asked for
first; an index that answers with HTML is read too (``data-yanked``,
``data-upload-time``).  Answers are cached for the life of an :class:`Index`.

Bisection (:mod:`tfcanary.bisect`) takes its candidate versions from here,
never from a list written in the code.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html.parser
import json
import os
import re
import sys
import sysconfig
import urllib.error
import urllib.request
from typing import Callable, Dict, List, Optional, Tuple

PYPI_SIMPLE = "https://pypi.org/simple"
ACCEPT = ("application/vnd.pypi.simple.v1+json, "
          "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1")

_VERSION_RE = re.compile(
    r"^v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|b|rc|alpha|beta|c|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:(?:-(?P<post_n1>\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>\d*)))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?$", re.IGNORECASE)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = float("inf")


class IndexUnreachable(OSError):
    """The index could not be read for a package."""


def version_key(version: str) -> Tuple:
    """A sort key for a PEP 440 version (``3.5.0 < 3.6.0rc1 < 3.6.0 < 3.6.0.post1``).

    Raises :class:`ValueError` for a string that is not a PEP 440 version.
    """
    m = _VERSION_RE.match(version.strip())
    if not m:
        raise ValueError(f"Expected a PEP 440 version like '3.5.0'. Received: {version!r}")
    release = tuple(int(x) for x in m["release"].split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    pre = (_PRE_RANK[m["pre_l"].lower()], int(m["pre_n"] or 0)) if m["pre_l"] else None
    post = m["post_n1"] or m["post_n2"]
    has_post = m["post_n1"] is not None or m["post_n2"] is not None
    dev = int(m["dev_n"] or 0) if m["dev_n"] is not None or "dev" in version.lower() else None
    # PEP 440 order: X.devN < X.aN < X.bN < X.rcN < X < X.postN; a dev of a pre/post sorts before it.
    if pre is None and not has_post and dev is not None:
        pre_k: Tuple = (-_INF, 0)
    elif pre is None:
        pre_k = (_INF, 0)
    else:
        pre_k = pre
    post_k = (int(post or 0),) if has_post else (-_INF,)
    dev_k = (dev,) if dev is not None else (_INF,)
    return (int(m["epoch"] or 0), release, pre_k, post_k, dev_k)


def is_prerelease(version: str) -> bool:
    """A pre-release or dev build (``3.6.0rc1``, ``2.22.0.dev20260401``)."""
    m = _VERSION_RE.match(version.strip())
    return bool(m and (m["pre_l"] or "dev" in version.lower()))


@dataclasses.dataclass(frozen=True)
class Release:
    """One version of a package on the index."""

    version: str
    uploaded: Optional[str]      # ISO time of the earliest file of this version, if the index says
    installable: bool            # a wheel (or sdist, for pure packages) that fits this interpreter
    files: int

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)


def index_url() -> str:
    """The index uv would use: ``$UV_INDEX_URL``, ``$PIP_INDEX_URL``, else PyPI's simple API."""
    for var in ("UV_INDEX_URL", "UV_DEFAULT_INDEX", "PIP_INDEX_URL"):
        value = os.environ.get(var, "").strip()
        if value:
            return value.rstrip("/")
    return PYPI_SIMPLE


def normalize_name(name: str) -> str:
    """PEP 503 name normalization: ``Tf_Nightly`` -> ``tf-nightly``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _platform_words() -> Tuple[str, str]:
    plat = sysconfig.get_platform().lower()        # linux-x86_64, macosx-11.0-arm64, win-amd64
    system = "linux" if plat.startswith("linux") else ("macosx" if plat.startswith("macosx") else "win")
    machine = plat.rsplit("-", 1)[-1]
    return system, machine


def wheel_fits(filename: str, python: str, system: str, machine: str) -> bool:
    """Whether a wheel named ``filename`` installs on ``python`` (``3.11``), ``system``, ``machine``."""
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return False
    py_tags, plat_tags = parts[-3].split("."), parts[-1].split(".")
    nodot = python.replace(".", "")
    py_ok = any(t in (f"cp{nodot}", f"py{nodot}", "py3", f"py{python[0]}") or t.startswith("py3")
                for t in py_tags) or (parts[-2] == "abi3" and any(
                    t.startswith("cp3") and int(t[3:] or 0) <= int(nodot[1:]) for t in py_tags))
    plat_ok = any(t == "any" or (system in t and machine in t) for t in plat_tags)
    return py_ok and plat_ok


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.files: List[Dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag != "a":
            return
        a = dict(attrs)
        href = a.get("href") or ""
        name = href.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        self.files.append({"filename": urllib.request.unquote(name),
                           "yanked": "data-yanked" in a,
                           "upload-time": a.get("data-upload-time")})


def parse_page(body: bytes, content_type: str) -> List[Dict[str, object]]:
    """The files of one project page, JSON (PEP 691) or HTML (PEP 503)."""
    if "json" in content_type:
        doc = json.loads(body.decode("utf-8"))
        return [{"filename": f["filename"], "yanked": bool(f.get("yanked")),
                 "upload-time": f.get("upload-time")} for f in doc.get("files", [])]
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    return parser.files


def _version_of(filename: str, project: str) -> Optional[str]:
    stem = filename
    for ext in (".whl", ".tar.gz", ".zip", ".tar.bz2", ".egg"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    else:
        return None
    if filename.endswith(".whl") or filename.endswith(".egg"):
        parts = stem.split("-")
        return parts[1] if len(parts) > 1 else None
    norm = normalize_name(project)
    for i in range(len(stem)):
        if stem[i] == "-" and normalize_name(stem[:i]) == norm:
            return stem[i + 1:]
    return None


Fetch = Callable[[str], Tuple[bytes, str]]


def _http_fetch(url: str) -> Tuple[bytes, str]:
    req = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": "tfcanary"})
    with urllib.request.urlopen(req, timeout=60) as resp:   # noqa: S310 (the index's own URL)
        return resp.read(), resp.headers.get("Content-Type", "")


class Index:
    """Versions of packages on one index, each page fetched once."""

    def __init__(self, url: Optional[str] = None, python: str = "", fetch: Optional[Fetch] = None) -> None:
        self.url = (url or index_url()).rstrip("/")
        self.python = python or "%d.%d" % sys.version_info[:2]
        self.system, self.machine = _platform_words()
        self._fetch = fetch or _http_fetch
        self._cache: Dict[str, List[Release]] = {}

    def releases(self, package: str, prereleases: bool = False) -> List[Release]:
        """Every non-yanked version of ``package``, in version order (pre-releases on request)."""
        name = normalize_name(package)
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return [r for r in self._cache[name] if prereleases or not is_prerelease(r.version)]

    def _read(self, name: str) -> List[Release]:
        url = f"{self.url}/{name}/"
        try:
            body, ctype = self._fetch(url)
        except (urllib.error.URLError, OSError) as exc:
            raise IndexUnreachable(f"Could not read {url}: {exc}. Check the network or "
                              "$UV_INDEX_URL / $PIP_INDEX_URL.") from None
        by_version: Dict[str, Dict[str, object]] = {}
        for f in parse_page(body, ctype):
            if f["yanked"]:
                continue
            filename = str(f["filename"])
            version = _version_of(filename, name)
            if version is None:
                continue
            try:
                version_key(version)
            except ValueError:
                continue            # legacy non-PEP 440 versions of old projects
            slot = by_version.setdefault(version, {"uploaded": None, "installable": False, "files": 0,
                                                   "wheels": 0})
            slot["files"] = int(slot["files"]) + 1
            up = f.get("upload-time")
            if isinstance(up, str) and up and (slot["uploaded"] is None or up < str(slot["uploaded"])):
                slot["uploaded"] = up
            if filename.endswith(".whl"):
                slot["wheels"] = int(slot["wheels"]) + 1
                if wheel_fits(filename, self.python, self.system, self.machine):
                    slot["installable"] = True
        out = []
        for version, s in by_version.items():
            # A version with no wheels at all can still be built from its sdist (pure packages).
            installable = bool(s["installable"]) or int(s["wheels"]) == 0
            out.append(Release(version, s["uploaded"] and str(s["uploaded"]), installable, int(s["files"])))
        return sorted(out, key=lambda r: version_key(r.version))


def parse_time(value: Optional[str]) -> Optional[_dt.datetime]:
    """An index upload time (``2024-08-12T20:42:48.504151Z``) as an aware datetime, or None."""
    if not value:
        return None
    return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
