"""The nightly's git and artifact steps: pin, the `nightly` branch, stage, merge, publish.

    tfcanary nightly pin --push                # pin tonight's nightlies, advance `nightly`
    tfcanary nightly stage nightly --sha SHA   # one environment's files -> artifact/
    tfcanary nightly merge artifacts           # the per-environment artifacts -> results/, .asv/results/
    tfcanary nightly publish --push            # asv history -> asv-results, HTML -> gh-pages

**Why a `nightly` branch.** asv adds one point per commit, ordered along a
branch's first-parent history.  The default branch is protected, so the bot
never commits there; instead it advances a long-lived ``nightly`` branch every
night by one commit whose tree is the default branch's tree plus
``nightly-pins.txt`` (tonight's exact tf-nightly and keras-nightly), with the
previous night as first parent and the default branch's head as second parent.
The branch only ever moves forward (a plain push, never forced), so asv's
order is stable; a rerun on the same day with the same code and pins reuses the
night's commit instead of adding a point.  The asv results accumulate on the
``asv-results`` branch; the dashboards (and the reports) go to ``gh-pages``.

Pushing uses ``$GITHUB_TOKEN`` as an HTTP header for github.com remotes when it
is set (the workflow checks out with ``persist-credentials: false``), and
plain git otherwise (a local bare repository in the tests).

Standard library only; asv is run as a program.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .. import matrix
from ..envs import asv as asvconf
from ..envs.install import uv_binary
from ..errors import UserError
from ..reports import freshness

PINNED = ("tf-nightly", "keras-nightly")
PINS_FILE = "nightly-pins.txt"
BOT = ("tfcanary-nightly", "tfcanary-nightly@users.noreply.github.com")


@dataclasses.dataclass(frozen=True)
class Pins:
    """Tonight's exact nightly versions and the day they were resolved."""

    day: str
    versions: Tuple[Tuple[str, str], ...]

    def render(self) -> str:
        lines = [f"# {', '.join(PINNED)} as of {self.day}: written by `tfcanary nightly pin`",
                 "# (`tfcanary run --pins FILE` installs exactly these; tfcanary's own nightly commits",
                 "# the file on its `nightly` branch, never on main)."]
        return "\n".join(lines + [f"{name}=={version}" for name, version in self.versions]) + "\n"

    def to_dict(self) -> Dict[str, object]:
        return {"day": self.day, "versions": dict(self.versions)}

    @classmethod
    def from_dict(cls, d: Dict[str, object]) -> "Pins":
        return cls(str(d["day"]), tuple(sorted(dict(d["versions"]).items())))  # type: ignore[arg-type]


def resolve_pins(python: str = matrix.DEFAULT_PYTHON, requires: Sequence[str] = (),
                 day: Optional[str] = None) -> Pins:
    """Ask the package index (``uv pip compile``) for the newest tf-nightly and keras-nightly.

    ``requires`` adds constraints (``tf-nightly<2.23.0.dev20261026``, or an exact
    ``==`` to pin a given night); the packages not named there are added bare.
    """
    named = {r.split("<")[0].split(">")[0].split("=")[0].split("!")[0].strip() for r in requires}
    unknown = named - set(PINNED)
    if unknown:
        raise UserError(f"Expected requirements on {' or '.join(PINNED)}. Received: {sorted(unknown)}.")
    reqs = list(requires) + [p for p in PINNED if p not in named]
    proc = subprocess.run([uv_binary(), "pip", "compile", "--prerelease", "allow", "--python-version",
                           python, "--no-header", "--no-annotate", "-"],
                          input="\n".join(reqs) + "\n", capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"Expected the index to resolve {reqs}. Received from uv:\n{proc.stderr[-2000:]}")
    found = {}
    for line in proc.stdout.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name in PINNED:
            found[name] = version.strip()
    if set(found) != set(PINNED):
        raise UserError(f"Expected uv to resolve {', '.join(PINNED)}. Received: {proc.stdout[-1000:]!r}")
    return Pins(day or _dt.datetime.now(_dt.timezone.utc).date().isoformat(), tuple(sorted(found.items())))


# --- git ----------------------------------------------------------------------------------

def git(repo: os.PathLike, *args: str, check: bool = True, env: Optional[Dict[str, str]] = None,
        input: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run git in ``repo``; with ``$GITHUB_TOKEN`` set, github.com remotes get it as a header."""
    auth: List[str] = []
    token = os.environ.get("GITHUB_TOKEN")
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        auth = ["-c", f"http.https://github.com/.extraheader=AUTHORIZATION: basic {basic}"]
    proc = subprocess.run(["git", *auth, *args], cwd=str(repo), capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input)
    if check and proc.returncode != 0:
        raise UserError(f"git {' '.join(args[:3])} failed in {repo} (exit {proc.returncode}):\n"
                        f"{proc.stderr.strip()[-2000:]}")
    return proc


def _rev(repo: os.PathLike, ref: str) -> Optional[str]:
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    return proc.stdout.strip() or None


def _bot_env() -> Dict[str, str]:
    return {"GIT_AUTHOR_NAME": BOT[0], "GIT_AUTHOR_EMAIL": BOT[1],
            "GIT_COMMITTER_NAME": BOT[0], "GIT_COMMITTER_EMAIL": BOT[1]}


def advance(repo: os.PathLike, pins: Pins, base: str = "HEAD", branch: str = "nightly",
            remote: Optional[str] = "origin", push: bool = False) -> str:
    """Add tonight's commit on ``branch``: ``base``'s tree plus the pins; return its hash.

    First parent: the branch's previous night (fetched from ``remote``), second:
    ``base`` when it is not already in the branch.  Nothing is rewritten.
    """
    if remote:
        git(repo, "fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
            check=False)   # absent on the first night
    prev = (_rev(repo, f"refs/remotes/{remote}/{branch}") if remote else None) \
        or _rev(repo, f"refs/heads/{branch}")
    base_sha = _rev(repo, base)
    if base_sha is None:
        raise UserError(f"Expected a commit to build tonight's commit on. Received: {base!r}.")
    blob = git(repo, "hash-object", "-w", "--stdin", input=pins.render()).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(repo, "read-tree", base_sha, env=index)
        git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{PINS_FILE}", env=index)
        tree = git(repo, "write-tree", env=index).stdout.strip()
    if prev and git(repo, "rev-parse", f"{prev}^{{tree}}").stdout.strip() == tree:
        sha = prev                      # a rerun: same code, same pins, same day
    else:
        parents = ["-p", prev] if prev else []
        if not prev or git(repo, "merge-base", "--is-ancestor", base_sha, prev, check=False).returncode:
            parents += ["-p", base_sha]
        names = ", ".join(f"{n} {v}" for n, v in pins.versions)
        sha = git(repo, "commit-tree", tree, *parents, "-m", f"nightly {pins.day}: {names}",
                  env=_bot_env()).stdout.strip()
    git(repo, "update-ref", f"refs/heads/{branch}", sha)
    if push and remote:
        git(repo, "push", "--quiet", remote, f"{sha}:refs/heads/{branch}")   # fast-forward only
    return sha


# --- artifacts ----------------------------------------------------------------------------

def stage(root: os.PathLike, label: str, sha: Optional[str], out: os.PathLike,
          results_dir: Optional[os.PathLike] = None, machine: Optional[str] = None) -> List[Path]:
    """Copy one environment's files of tonight into ``out`` (the job's artifact).

    ``out/results/<label>.json``, ``out/results/speed/<label>.json`` and, when
    ``sha`` is given, ``out/asv-results/``: asv's result of ``sha`` in this
    environment, its machine.json and benchmarks.json.  (A plain folder:
    artifacts drop hidden ones.)
    """
    root, out = Path(root), Path(out)
    res = Path(results_dir) if results_dir else root / "results"
    entry = matrix.get(label)
    pairs = [(res / f"{label}.json", out / "results" / f"{label}.json"),
             (res / "speed" / f"{label}.json", out / "results" / "speed" / f"{label}.json")]
    if sha is None:                     # no asv here (a repository of one's own layers)
        return _copy(pairs)
    asv_res = root / ".asv" / "results"
    pairs.append((asv_res / "benchmarks.json", out / "asv-results" / "benchmarks.json"))
    for mdir in sorted(p for p in asv_res.glob("*") if p.is_dir()) if asv_res.is_dir() else []:
        if machine and mdir.name != machine:
            continue
        name = f"{sha[:8]}-{asvconf.env_name(entry)}.json"
        for f in (mdir / "machine.json", mdir / name):
            pairs.append((f, out / "asv-results" / mdir.name / f.name))
    return _copy(pairs)


def _copy(pairs: Sequence[Tuple[Path, Path]]) -> List[Path]:
    """Copy each existing source to its destination; the destinations copied."""
    copied = []
    for src, dst in pairs:
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
            copied.append(dst)
    return copied


def merge(artifacts: os.PathLike, results_dir: os.PathLike, asv_results: os.PathLike) -> List[Path]:
    """Every artifact's ``results/`` into ``results_dir``, ``asv-results/`` into ``asv_results``.

    Two artifacts carrying the same results file with different contents is an
    error (two jobs probed one environment); asv's machine.json and
    benchmarks.json are the same in every job and simply overwrite.
    """
    art = Path(artifacts)
    if not art.is_dir():
        raise UserError(f"Expected a folder of per-environment artifacts. Received: {art} (not found).")
    copied: Dict[Path, Path] = {}
    for src in sorted(p for p in art.rglob("*") if p.is_file()):
        rel = src.relative_to(art).parts
        for i, part in enumerate(rel[:-1]):
            if part in ("results", "asv-results"):
                dest_root = Path(results_dir) if part == "results" else Path(asv_results)
                dst = dest_root.joinpath(*rel[i + 1:])
                break
        else:
            continue
        if part == "results" and dst in copied and dst.read_bytes() != src.read_bytes():
            raise UserError(f"Expected one results file per environment. Received: {copied[dst]} "
                            f"and {src}, which differ.")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        copied[dst] = src
    if not copied:
        raise UserError(f"Expected results/ or asv-results/ folders under {art}. Received: none.")
    return sorted(copied)


# --- publishing ---------------------------------------------------------------------------

def _checkout(repo: Path, remote: str, branch: str, into: Path) -> None:
    """``branch`` of ``remote`` (its tip only) in ``into``; an empty orphan when absent."""
    url = git(repo, "remote", "get-url", remote).stdout.strip()
    exists = git(repo, "ls-remote", "--exit-code", "--heads", url, branch, check=False).returncode == 0
    if exists:
        git(repo, "clone", "--quiet", "--depth", "1", "--single-branch", "--branch", branch, url, str(into))
    else:
        into.mkdir(parents=True)
        git(into, "init", "--quiet")
        git(into, "checkout", "--quiet", "--orphan", branch)
        git(into, "remote", "add", "origin", url)


def _commit_push(clone: Path, branch: str, message: str, push: bool) -> bool:
    git(clone, "add", "-A")
    if git(clone, "status", "--porcelain").stdout.strip():
        git(clone, "commit", "--quiet", "-m", message, env=_bot_env())
        if push:
            git(clone, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")   # never forced
        return True
    return False


def asv_config(root: Path, branch: str) -> Path:
    """asv.conf.json for publishing the nightly history: the branch is ``branch``.

    asv chdirs to the config's folder, so it lives in .asv/ with paths from there.
    """
    conf = asvconf.read(root / "asv.conf.json")
    conf.update({"repo": "..", "branches": [branch], "benchmark_dir": "../benchmarks",
                 "env_dir": "env", "results_dir": "results", "html_dir": "html"})
    path = root / ".asv" / "nightly.conf.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(conf, indent=2) + "\n", encoding="utf-8")
    return path


def publish(root: os.PathLike, remote: str = "origin", branch: str = "nightly",
            history_branch: str = "asv-results", pages_branch: str = "gh-pages",
            results_dir: Optional[os.PathLike] = None, reports_dir: Optional[os.PathLike] = None,
            push: bool = False, asv: str = "asv") -> Dict[str, object]:
    """Earlier nights from ``history_branch`` + tonight -> asv publish -> both branches."""
    root = Path(root).resolve()
    res = Path(results_dir) if results_dir else root / "results"
    reports = Path(reports_dir) if reports_dir else root / "reports"
    asv_results, html = root / ".asv" / "results", root / ".asv" / "html"
    if _rev(root, f"refs/heads/{branch}") is None:
        tip = _rev(root, f"refs/remotes/{remote}/{branch}")
        if tip is None:
            raise UserError(f"Expected a branch {branch!r} (run `tfcanary nightly pin` first). "
                            f"Received: no {branch} or {remote}/{branch} in {root}.")
        git(root, "branch", branch, tip)
    fresh = freshness.newest(res)
    day = (fresh or _dt.datetime.now(_dt.timezone.utc)).date().isoformat()
    with tempfile.TemporaryDirectory() as tmp:
        hist, pages = Path(tmp) / "history", Path(tmp) / "pages"
        _checkout(root, remote, history_branch, hist)
        for src in (p for p in hist.rglob("*") if p.is_file() and ".git" not in p.relative_to(hist).parts):
            dst = asv_results / src.relative_to(hist)
            if not dst.exists():                      # tonight's machine/benchmarks.json win
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        proc = subprocess.run([asv, "--config", str(asv_config(root, branch)), "publish"],
                              cwd=str(root), capture_output=True, text=True)
        if proc.returncode != 0:
            raise UserError(f"asv publish failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
        banner = freshness.add_banner(html, res)
        shutil.copytree(asv_results, hist, dirs_exist_ok=True)
        tip = _rev(root, f"refs/heads/{branch}") or ""
        pushed_history = _commit_push(hist, history_branch, f"asv results {day} ({branch} {tip[:8]})", push)
        _checkout(root, remote, pages_branch, pages)
        for old in pages.iterdir():
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        shutil.copytree(html, pages, dirs_exist_ok=True)
        if reports.is_dir():
            shutil.copytree(reports, pages / "reports", dirs_exist_ok=True)
        (pages / ".nojekyll").write_text("", encoding="utf-8")
        pushed_pages = _commit_push(pages, pages_branch, f"dashboards {day} ({branch} {tip[:8]})", push)
    return {"history": pushed_history, "pages": pushed_pages, "banner": banner, "pushed": push}
