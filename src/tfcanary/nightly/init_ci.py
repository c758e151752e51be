"""``tfcanary init-ci``: write the workflow that runs tfcanary's nightly in your repository.

    tfcanary init-ci --cases cases --with -e . --env tf2.15 --env tf2.21

writes ``.github/workflows/tfcanary-nightly.yml``: a few lines that call the
reusable workflow of tfcanary's repository (:data:`REUSABLE`) every night and
by hand, with the least permissions (``contents: read``; ``issues: write`` for
the alert), and prints what to enable in the repository's settings.  An
existing file is left alone unless ``--force``.

**The pin.** GitHub runs the reusable workflow at the commit the caller names,
and the workflow installs tfcanary from the requirement the caller passes
(a reusable workflow cannot see its own ref), so both name one commit:
``--ref`` (a 40-hex commit, or a tag or branch that ``git ls-remote`` resolves
to its commit, kept in a comment).  The default is the commit this tfcanary was
installed from (pip records it for ``pip install git+https://...``), else the
tag ``v<version>`` of this release.  A commit, never a moving tag: what runs
each night is what was reviewed, and zizmor's ``unpinned-uses`` stays quiet.

Standard library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Optional, Sequence, Tuple

from .. import matrix
from ..errors import UsageError, UserError
from ..results import write_text_atomic

REUSABLE = ".github/workflows/reusable-nightly.yml"
DEFAULT_OUT = ".github/workflows/tfcanary-nightly.yml"
DEFAULT_CRON = "17 4 * * *"        # after tf-nightly's nightly upload; off the full hour
_SHA = re.compile(r"^[0-9a-f]{40}$")
_GITHUB = re.compile(r"github\.com[/:]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


@dataclasses.dataclass(frozen=True)
class Options:
    """What the caller workflow passes to the reusable one (the CLI's options)."""

    repo: str                                   # OWNER/NAME of tfcanary
    sha: str                                    # the commit both the workflow and tfcanary come from
    ref_note: str                               # the tag, branch or version the commit stands for
    cases: Tuple[str, ...] = ("cases",)
    environments: Tuple[str, ...] = ("tf2.21",)
    with_specs: Tuple[str, ...] = ()
    tests: Tuple[str, ...] = ()
    snapshots: str = ""
    workloads: Tuple[str, ...] = ()
    nightlies: bool = True
    speed: bool = True
    alert: bool = True
    baseline: str = "tf2.21"
    cron: str = DEFAULT_CRON


def installed_source() -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(OWNER/NAME, commit, requested ref) of the GitHub repository this tfcanary was
    installed from (:func:`source_of` its ``direct_url.json``); Nones when unknown."""
    from importlib import metadata

    try:
        return source_of(metadata.distribution("tfcanary").read_text("direct_url.json"))
    except metadata.PackageNotFoundError:
        return None, None, None


def source_of(direct_url: Optional[str]) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(OWNER/NAME, commit, requested ref) from pip's record of where a package came from
    (``direct_url.json``, PEP 610): ``pip install git+https://github.com/OWNER/NAME@REF``
    records the URL, the commit and REF.  Nones for what it does not say."""
    try:
        doc = json.loads(direct_url or "")
    except ValueError:
        return None, None, None
    if not isinstance(doc, dict):
        return None, None, None
    m = _GITHUB.search(str(doc.get("url") or ""))
    vcs = doc.get("vcs_info") or {}
    return (f"{m.group(1)}/{m.group(2)}" if m else None, vcs.get("commit_id"), vcs.get("requested_revision"))


def resolve_ref(repo: str, ref: str) -> str:
    """The commit of tag or branch ``ref`` in github.com/``repo`` (``git ls-remote``)."""
    url = f"https://github.com/{repo}"
    proc = subprocess.run(["git", "ls-remote", url, f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}",
                           f"refs/heads/{ref}"], capture_output=True, text=True, timeout=60)
    found = {}
    for line in proc.stdout.splitlines():
        sha, _, name = line.partition("\t")
        found[name] = sha
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}"):
        if name in found:
            return found[name]
    raise UserError(f"Expected --ref to name a commit, tag or branch of {url}. Received: {ref!r} "
                    f"({proc.stderr.strip()[-300:] or 'not found'}). Pass the 40-hex commit to pin.")


def pin(repo: Optional[str], ref: Optional[str]) -> Tuple[str, str, str]:
    """(OWNER/NAME, commit, note) to pin: the options, else how this tfcanary was installed."""
    from .. import __version__

    src_repo, src_commit, src_ref = installed_source()
    repo = repo or src_repo
    if not repo:
        raise UsageError("Expected --repo OWNER/NAME, the GitHub repository of tfcanary to pin. "
                         "Received: none, and this tfcanary was not installed from GitHub.")
    if not re.match(r"^[\w.-]+/[\w.-]+$", repo):
        raise UsageError(f"Expected --repo OWNER/NAME. Received: {repo!r}.")
    if ref is None and src_commit and repo == src_repo:
        return repo, src_commit, src_ref or f"tfcanary {__version__}"
    ref = ref or f"v{__version__}"
    if _SHA.match(ref):
        return repo, ref, f"tfcanary {__version__}"
    return repo, resolve_ref(repo, ref), ref


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(value)


def render(o: Options) -> str:
    """The caller workflow."""
    perms = "{contents: read, issues: write}" if o.alert else "{contents: read}"
    inputs = [("tfcanary", _q(f"tfcanary @ git+https://github.com/{o.repo}@{o.sha}")),
              ("cases", _q(" ".join(o.cases))), ("environments", _q(" ".join(o.environments)))]
    if len(o.with_specs) == 1:
        inputs.append(("with", _q(o.with_specs[0])))
    elif o.with_specs:
        inputs.append(("with", "|\n" + "".join(f"        {s}\n" for s in o.with_specs).rstrip("\n")))
    for name, value, default in (("tests", " ".join(o.tests), ""), ("snapshots", o.snapshots, ""),
                                 ("workloads", " ".join(o.workloads), ""), ("baseline", o.baseline, "tf2.21")):
        if value != default:
            inputs.append((name, _q(value)))
    for name, value in (("nightlies", o.nightlies), ("speed", o.speed), ("alert", o.alert)):
        if not value:
            inputs.append((name, "false"))
    lines = [
        "# tfcanary's nightly for this repository: your cases against tonight's tf-nightly and",
        "# keras-nightly and the environments below (README of tfcanary, \"Your repository's nightly\").",
        f"# Written by `tfcanary init-ci`; the workflow and tfcanary come from one commit of {o.repo}.",
        "name: tfcanary nightly",
        "on:",
        "  schedule:",
        f"    - cron: {_q(o.cron)}",
        "  workflow_dispatch:",
        "permissions: {}",
        "jobs:",
        "  nightly:",
        f"    uses: {o.repo}/{REUSABLE}@{o.sha} # {o.ref_note}",
        f"    permissions: {perms}",
        "    with:",
        *[f"      {name}: {value}" for name, value in inputs],
    ]
    return "\n".join(lines) + "\n"


def settings(o: Options, out: Path) -> str:
    """What to enable in the repository's settings, and what to do before the first night."""
    snaps = o.snapshots or f"{o.cases[0]}/snapshots"
    run = " ".join(["tfcanary run", *[f"--cases {c}" for c in o.cases], *[f"--pytest {t}" for t in o.tests],
                    *[f"--env {e}" for e in o.environments], *[f"--with {s}" for s in o.with_specs]])
    steps = [
        f"Settings -> Actions -> General: allow actions and reusable workflows. If you allow only "
        f"selected ones, allow {o.repo}/{REUSABLE}@*, actions/checkout@*, actions/setup-python@*, "
        f"actions/upload-artifact@* and actions/download-artifact@*.",
        "Workflow permissions can stay 'Read repository contents': each job asks for what it needs "
        "(contents: read" + ("; issues: write for the alert job only" if o.alert else "") + ").",
    ]
    if o.alert:
        steps.append("Settings -> General -> Features: keep Issues on (the alert is one issue labelled "
                     "tfcanary-nightly; the job creates the label).")
    steps += [
        f"Commit reviewed snapshots: {run} && tfcanary check --update, then review and commit {snaps}/ "
        "(the nightly environment's snapshot comes from the first night's results artifact: "
        "tfcanary check --results DIR --update).",
        f"Merge {out.as_posix()} into the default branch (schedules run there only), then run it once "
        "by hand: Actions -> tfcanary nightly -> Run workflow.",
    ]
    return ("To enable it in your repository:\n" + "".join(f"  {i}. {s}\n" for i, s in enumerate(steps, 1))
            + f"Pinned to {o.repo}@{o.sha} ({o.ref_note}); to move the pin: tfcanary init-ci --force --ref REF "
            "(a commit, or a tag that is resolved to its commit).\n")


def _check_folders(paths: Sequence[str], option: str, cwd: Path) -> None:
    for p in paths:
        if not (cwd / p).is_dir():
            raise UsageError(f"Expected {option} to name a folder of this repository. Received: {p} "
                             f"({'not a folder' if (cwd / p).exists() else 'not found'} in {cwd}).")


def run(args: argparse.Namespace, cwd: Optional[Path] = None) -> int:
    cwd = Path(cwd or Path.cwd())
    cases = args.cases or ["cases"]
    _check_folders(cases, "--cases", cwd)
    _check_folders(args.workloads, "--workloads", cwd)
    envs = list(dict.fromkeys(args.env or ["tf2.21"]))
    for label in envs + [args.baseline]:
        matrix.get(label)                    # a clear error for a label not in the matrix
    if len(args.cron.split()) != 5:
        raise UsageError(f"Expected --cron with five fields, e.g. {DEFAULT_CRON!r}. Received: {args.cron!r}.")
    out = cwd / args.out
    if out.exists() and not args.force:
        raise UsageError(f"Expected no workflow at {args.out} (pass --force to replace it). "
                         f"Received: an existing file.")
    repo, sha, note = pin(args.repo, args.ref)
    o = Options(repo=repo, sha=sha, ref_note=note, cases=tuple(cases), environments=tuple(envs),
                with_specs=tuple(args.with_specs), tests=tuple(args.tests), snapshots=args.snapshots or "",
                workloads=tuple(args.workloads), nightlies=not args.no_nightlies, speed=not args.no_speed,
                alert=not args.no_alert, baseline=args.baseline, cron=args.cron)
    write_text_atomic(out, render(o))
    print(f"wrote {args.out}")
    print(settings(o, Path(args.out)), end="")
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:  # type: ignore[name-defined]
    """``tfcanary init-ci``: the CLI registers it with this one call."""
    p = sub.add_parser("init-ci", help="write the GitHub workflow that runs tfcanary's nightly in this "
                                       "repository (.github/workflows/tfcanary-nightly.yml)")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"where to write it (default: {DEFAULT_OUT})")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--repo", help="tfcanary's GitHub repository, OWNER/NAME (default: the one this "
                                  "tfcanary was installed from)")
    p.add_argument("--ref", help="the commit of tfcanary to pin, or a tag or branch resolved to its commit "
                                 "(default: the commit this tfcanary was installed from, else v<version>)")
    p.add_argument("--cases", action="append", default=None, help="case folder (repeatable; default: cases)")
    p.add_argument("--env", action="append", default=[], help="matrix label (repeatable; default: tf2.21)")
    p.add_argument("--with", dest="with_placeholder", metavar="SPEC", action="append",
                   help="installed into every environment: -e ., -r requirements.txt (repeatable)")
    p.add_argument("--pytest", dest="tests", action="append", default=[], metavar="PATH",
                   help="a pytest path of your test suite (repeatable; passed as --pytest PATH)")
    p.add_argument("--snapshots", help="snapshot folder (default: <first case folder>/snapshots)")
    p.add_argument("--workloads", action="append", default=[], metavar="DIR", help="workloads to time")
    p.add_argument("--baseline", default="tf2.21", help="the upgrade report's start: BASELINE -> nightly")
    p.add_argument("--no-nightlies", action="store_true", help="no nightly environment")
    p.add_argument("--no-speed", action="store_true", help="do not time")
    p.add_argument("--no-alert", action="store_true", help="no alert issue (and no issues: write)")
    p.add_argument("--cron", default=DEFAULT_CRON, help=f"when, in UTC (default: {DEFAULT_CRON!r})")
    p.set_defaults(func=lambda args: run(args))
