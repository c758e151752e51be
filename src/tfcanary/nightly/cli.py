"""``tfcanary nightly <step>``: every step of the nightly CI, as a command that runs on a laptop too.

    tfcanary nightly matrix                    # the fan-out: environment labels as JSON
    tfcanary nightly matrix --env tf2.21 --env nightly   # ... of chosen environments
    tfcanary nightly pin --push                # pin tonight's nightlies, advance `nightly`
    tfcanary nightly pin --no-branch --write pins.txt    # only pin them (no git)
    tfcanary nightly env nightly --sha SHA     # probe, time, asv-benchmark one environment -> artifact/
    tfcanary nightly stage nightly --sha SHA   # only stage one environment's files -> artifact/
                                               # (without --sha: results and speed, no asv)
    tfcanary nightly merge artifacts           # the per-environment artifacts -> results/, .asv/results/
    tfcanary nightly reports                   # summary, version matrix, upgrade report tf2.21 -> nightly
    tfcanary nightly publish --push            # asv history -> asv-results, HTML -> gh-pages
    tfcanary nightly check                     # the check (+ bisection on transitions): exit 1 on transitions
    tfcanary nightly alert                     # open / update / close the alert issue

Thin glue over :mod:`.steps`, :mod:`.jobs` and :mod:`.alert`.  The defaults are
tfcanary's own repository (``cases/``, ``snapshots/``, asv, the ``nightly``
branch); the options serve a repository of one's own layers, as the reusable
workflow (``.github/workflows/reusable-nightly.yml``) calls them.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path
from typing import Optional

from .. import matrix
from . import alert, jobs
from ..results import write_text_atomic
from .steps import advance, merge, publish, resolve_pins, stage


def _github_output(path: Optional[str], **values: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as f:
            for k, v in values.items():
                f.write(f"{k}={v}\n")


def _cmd(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    if args.step == "matrix":
        if args.env:
            entries = [matrix.get(label) for label in dict.fromkeys(args.env)]
        else:
            entries = matrix.default() if args.default else matrix.full()
        labels = json.dumps([e.label for e in entries])
        print(labels)
        _github_output(args.github_output, envs=labels)
    elif args.step == "pin":
        pins = resolve_pins(requires=args.require)
        print(pins.render(), end="")
        if args.write:
            write_text_atomic(Path(args.write), pins.render())
            print(f"wrote {args.write}")
        outputs = {"pins": json.dumps(pins.to_dict()["versions"])}
        if not args.no_branch:
            sha = advance(root, pins, base=args.base, branch=args.branch, remote=args.remote or None,
                          push=args.push)
            print(f"{args.branch} -> {sha}{' (pushed)' if args.push else ''}")
            outputs["sha"] = sha
        _github_output(args.github_output, **outputs)
    elif args.step == "stage":
        for path in stage(root, args.label, args.sha, args.out, args.results_dir, args.machine):
            print(f"staged {path}")
    elif args.step == "merge":
        files = merge(args.artifacts, args.results_dir or root / "results", root / ".asv" / "results")
        asv = sum(1 for f in files if (root / ".asv" / "results") in f.parents)
        print(f"merged {len(files) - asv} files into {args.results_dir or 'results'}/"
              + (f" and {asv} into .asv/results/" if asv else ""))
    elif args.step == "publish":
        out = publish(root, args.remote, args.branch, args.history_branch, args.pages_branch,
                      args.results_dir, args.reports, push=args.push)
        print(json.dumps(out))
    elif args.step == "alert":
        return alert.run(Path(args.reports), dry_run=args.dry_run, run_url=args.run_url)
    elif args.step == "env":
        return jobs.env(root, args.label, args.sha, Path(args.out).resolve(),
                        venv=Path(args.venv).resolve() if args.venv else None,
                        results_dir=Path(args.results_dir).resolve() if args.results_dir else None,
                        select=args.select, timer_args=shlex.split(args.timer_args),
                        machine=args.machine, bench=args.bench)
    elif args.step == "reports":
        return jobs.reports(Path(args.results_dir or root / "results"), Path(args.reports or root / "reports"),
                            pair=args.pair, step_summary=os.environ.get("GITHUB_STEP_SUMMARY"))
    elif args.step == "check":
        extra = [a for p in args.pytest for a in ("--pytest", p)]
        extra += [f"--pytest-args={args.pytest_args}"] if args.pytest_args is not None else []
        return jobs.check(Path(args.results_dir or root / "results"),
                          Path(args.snapshots) if args.snapshots else None,
                          Path(args.reports or root / "reports"), cases=args.cases or [str(root / "cases")],
                          pair=args.pair, with_specs=args.with_specs, bisect=not args.no_bisect,
                          bisect_args=extra, step_summary=os.environ.get("GITHUB_STEP_SUMMARY"))
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:  # type: ignore[name-defined]
    """``tfcanary nightly <step>``: the CLI registers it with this one call."""
    p = sub.add_parser("nightly", help="the nightly CI's steps (matrix, pin, env, merge, reports, publish, "
                                       "check, alert)")
    steps = p.add_subparsers(dest="step", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=".", help="the checkout (default: .)")
    common.add_argument("--results-dir", help="results folder (default: ROOT/results)")
    s = steps.add_parser("matrix", parents=[common], help="the environment labels of the fan-out, as JSON")
    s.add_argument("--default", action="store_true", help="the default matrix instead of the full one")
    s.add_argument("--env", action="append", default=[], metavar="LABEL",
                   help="these matrix labels instead (repeatable; checked against the matrix)")
    s.add_argument("--github-output", help="also append envs=<json> to this file ($GITHUB_OUTPUT)")
    s = steps.add_parser("pin", parents=[common], help="resolve tonight's nightlies, add the night's commit")
    s.add_argument("--require", action="append", default=[],
                   help="a constraint, e.g. 'tf-nightly==2.23.0.dev20261025' (repeatable)")
    s.add_argument("--base", default="HEAD", help="the code to benchmark (default: HEAD)")
    s.add_argument("--branch", default="nightly")
    s.add_argument("--remote", default="origin", help="'' for none")
    s.add_argument("--push", action="store_true", help="push the branch (fast-forward only)")
    s.add_argument("--no-branch", action="store_true",
                   help="only resolve the pins (with --write: into a file); no git, no branch")
    s.add_argument("--write", metavar="FILE", help="write the pins to FILE (what `tfcanary run --pins` reads)")
    s.add_argument("--github-output", help="also append pins=... (and sha=... of the branch) to this file")
    s = steps.add_parser("stage", parents=[common], help="one environment's files of tonight -> OUT")
    s.add_argument("label")
    s.add_argument("--sha", help="the commit asv benchmarked (without it: no asv files)")
    s.add_argument("--out", default="artifact")
    s.add_argument("--machine", help="asv machine name (default: every one)")
    s = steps.add_parser("merge", parents=[common], help="per-environment artifacts -> results/, .asv/results/")
    s.add_argument("artifacts")
    s = steps.add_parser("publish", parents=[common], help="asv history and HTML to their branches")
    s.add_argument("--remote", default="origin")
    s.add_argument("--branch", default="nightly", help="the branch asv orders the nights by")
    s.add_argument("--history-branch", default="asv-results")
    s.add_argument("--pages-branch", default="gh-pages")
    s.add_argument("--reports", default=None, help="reports folder to publish under reports/")
    s.add_argument("--push", action="store_true")
    s = steps.add_parser("env", parents=[common], help="probe, time and asv-benchmark one environment; "
                                                       "stage its files")
    s.add_argument("label")
    s.add_argument("--sha", required=True, help="the night's commit (asv benchmarks SHA^!)")
    s.add_argument("--venv", help="the environment's folder (default: the tfcanary cache's)")
    s.add_argument("--machine", help="asv machine name (default: $TFCANARY_ASV_MACHINE or the host name)")
    s.add_argument("--select", action="append", default=[], help="case id, family or tag (a quick look)")
    s.add_argument("--timer-args", default="", help="timer options for speed and asv, e.g. '--processes 1'")
    s.add_argument("--bench", help="only the asv benchmarks matching this regex (a quick look)")
    s.add_argument("--out", default="artifact")
    pair = argparse.ArgumentParser(add_help=False)
    pair.add_argument("--pair", nargs=2, default=list(jobs.PAIR), metavar=("A", "B"),
                      help=f"the upgrade the night reports and bisects (default: {' '.join(jobs.PAIR)})")
    s = steps.add_parser("reports", parents=[common, pair], help="summary, version matrix, upgrade report "
                                                                 f"{jobs.PAIR[0]} -> {jobs.PAIR[1]}")
    s.add_argument("--reports", help="reports folder (default: ROOT/reports)")
    s = steps.add_parser("check", parents=[common, pair], help="the check against snapshots; bisect the "
                                                               "high-risk transitions; exit 1 on transitions")
    s.add_argument("--snapshots", help="snapshot folder (default: the one the results record)")
    s.add_argument("--reports", help="reports folder (default: ROOT/reports)")
    s.add_argument("--cases", action="append", help="case folder the bisection probes (default: ROOT/cases)")
    s.add_argument("--with", dest="with_placeholder", metavar="SPEC", action="append",
                   help="installed at every point of the bisection: -e ., -r requirements.txt (repeatable)")
    s.add_argument("--pytest", action="append", default=[], metavar="PATH",
                   help="passed to `tfcanary bisect --pytest` (repeatable)")
    s.add_argument("--pytest-args", metavar="'...'", help="passed to `tfcanary bisect --pytest-args`")
    s.add_argument("--no-bisect", action="store_true", help="do not bisect the transitions")
    s = steps.add_parser("alert", parents=[common], help="open, update or close the alert issue (gh)")
    s.add_argument("--reports", default="reports", help="where check.xml/check.md are")
    s.add_argument("--dry-run", action="store_true", help="print the decision, call nothing")
    s.add_argument("--run-url", default=None, help="link to the run (default: from GitHub's env)")
    p.set_defaults(func=_cmd)
