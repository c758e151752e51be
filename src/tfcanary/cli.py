"""Command line: ``tfcanary <command>`` (or ``python -m tfcanary <command>``).

Thin glue: parse arguments, call a plain function, print.  Exit status: 0
clean; 1 a finding (transitions, failed environments, corpus errors); 2 a
:class:`~tfcanary.errors.UserError` (a bad argument, an unreadable input file),
printed without a traceback; 3 an internal error, printed with its traceback
and a request to report it.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import List, Optional

from .errors import UsageError, UserError

INTERNAL_ERROR = 3


def cmd_summary(args: argparse.Namespace) -> int:
    from . import matrix
    from .reports import summary

    if not any(Path(p).exists() for p in args.paths):
        raise UserError(f"Expected a results folder or file. Received: {' '.join(args.paths)} (not found). "
                        "Run `nox` first to probe the default matrix.")
    expected = [e.label for e in matrix.default()] if args.expect_default else []
    text = summary.render(args.paths, expected=expected)
    print(text, end="")
    if args.write:
        from .results import write_text_atomic

        write_text_atomic(args.write, text)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from . import corpus

    c = corpus.scan(args.cases).select(args.select)
    for case in c.cases:
        variants = "+".join(v for v in ("broken", "fixed") if v in case.variants)
        claim = "-" if case.claim is None else (case.claim.error or "no error")
        print(f"{case.id:<40} {case.family:<18} {case.kind:<7} {variants:<13} claims: {claim}")
    for err in c.errors:
        print(f"corpus error: {err}", file=sys.stderr)
    print(f"{len(c.cases)} cases, {len(c.errors)} corpus errors", file=sys.stderr)
    return 1 if c.errors else 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from . import matrix

    entries = matrix.full() if args.full else matrix.default()
    for e in entries:
        print(f"{e.label:<18} {' '.join(e.requirements()):<48} python {e.python}  "
              f"{('as of ' + e.exclude_newer) if e.exclude_newer else e.kind:<20} {e.note}")
    return 0


def _speedups_file(given: Optional[str], results: List[str]) -> Optional[str]:
    """``--speedups``, else ``<results>/speed/speedups.csv`` when a speed run wrote one."""
    if given:
        return given
    found = [Path(r) / "speed" / "speedups.csv" for r in results if (Path(r) / "speed" / "speedups.csv").is_file()]
    return str(found[0]) if found else None


def cmd_report(args: argparse.Namespace) -> int:
    from .bisect.run import first_changed
    from .reports import speed, version_matrix

    path = version_matrix.write(args.paths, args.out,
                                speedups=speed.read_speedups(_speedups_file(args.speedups, args.paths)),
                                first_changed=first_changed(args.paths))
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    from .bisect.run import first_changed
    from .reports import speed, upgrade

    for path in upgrade.write(args.results, args.a, args.b, args.out,
                              speedups=speed.read_speedups(_speedups_file(args.speedups, args.results)),
                              first_changed=first_changed(args.results)):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .reports import check

    if args.max_age is not None:
        from .reports.freshness import require_fresh

        print(require_fresh(args.results, args.max_age))
    return check.run(args.results, args.snapshots, update_snapshots=args.update,
                     junit=args.junit, markdown_out=args.markdown)


def cmd_speed(args: argparse.Namespace) -> int:
    from .reports import speed

    if not any(Path(p).exists() for p in args.paths):
        raise UserError(f"Expected a speed results folder or file. Received: {' '.join(args.paths)} "
                        "(not found). Time your cases first: `tfcanary run --speed --env tf2.15` "
                        "(in tfcanary's repository: `nox -s speed -- tf2.15`).")
    print(speed.render(args.paths), end="")
    if args.csv:
        print(f"wrote {speed.write_csv(args.paths, args.csv)}", file=sys.stderr)
    return 0


def _check_timeout(args: argparse.Namespace) -> None:
    if not (args.timeout > 0 and math.isfinite(args.timeout)):   # nan compares false: refused too
        raise UsageError(f"Expected --timeout SECONDS, a number above 0. Received: {args.timeout}.")


def cmd_run(args: argparse.Namespace) -> int:
    from .envs import runner

    _check_timeout(args)
    if args.no_probe and not args.speed:
        raise UserError("Expected --no-probe with --speed (time without probing). Received: --no-probe alone.")
    opts = runner.RunOptions(
        cases=args.cases or [], labels=args.env, pytest=args.pytest, pytest_args=args.pytest_args,
        reset=not args.no_reset, with_specs=args.with_specs, select=args.select,
        results_dir=args.results, reports_dir=None if args.no_report else args.out, timeout=args.timeout,
        shuffle=args.shuffle, jobs=args.jobs, gpu=args.gpu, venv=args.venv, pins=args.pins,
        snapshots=args.snapshots, speed=args.speed, probe=not args.no_probe, workloads=args.workloads,
        timer_args=shlex.split(args.timer_args))
    return runner.run(opts)


def cmd_envs(args: argparse.Namespace) -> int:
    from .envs import cache as envcache

    if args.remove or args.all:
        removed = envcache.remove(args.remove, everything=args.all, echo=lambda line: print(line, flush=True))
        if removed:
            print(f"removed {len(removed)} environment{'s' if len(removed) != 1 else ''}")
        return 0
    print(envcache.render(envcache.entries()), end="")
    return 0


_WITH_PATH_OPTIONS = ("-e", "--editable", "-r", "--requirement", "-c", "--constraint")


def split_with(argv: List[str]) -> "tuple[List[str], List[str]]":
    """Take ``--with SPEC`` out of ``argv`` before argparse sees it.

    ``--with -e .`` and ``--with -r requirements.txt`` are one spec each: argparse
    would read ``-e`` as an option of its own.  Returns (the other arguments, specs).
    """
    rest: List[str] = []
    specs: List[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--with="):
            specs.append(a[len("--with="):])
            i += 1
        elif a == "--with":
            if i + 1 >= len(argv):
                raise UserError("Expected a package after --with (e.g. --with -e . or --with mypkg==1.2). "
                                "Received: nothing.")
            if argv[i + 1] in _WITH_PATH_OPTIONS:
                if i + 2 >= len(argv):
                    raise UserError(f"Expected a path after --with {argv[i + 1]}. Received: nothing.")
                specs.append(f"{argv[i + 1]} {argv[i + 2]}")
                i += 3
            else:
                specs.append(argv[i + 1])
                i += 2
        else:
            rest.append(a)
            i += 1
    return rest, specs



def cmd_bisect(args: argparse.Namespace) -> int:
    from .bisect import run as bisect

    _check_timeout(args)
    only = None
    given = [args.case, args.variant, args.mode]
    if any(given):
        if not all(given):
            raise UserError("Expected --case, --variant and --mode together. Received: "
                            + ", ".join(f"--{n} {v}" for n, v in zip(("case", "variant", "mode"), given) if v))
        only = (args.case, args.variant, args.mode)
    json_path, md_path = bisect.run(args.a, args.b, args.results, args.cases, select=args.select,
                                    only=only, high_risk=args.high_risk, timeout=args.timeout,
                                    python=args.python, out_dir=args.out, with_specs=args.with_specs,
                                    tests=args.pytest, pytest_args=args.pytest_args, reset=not args.no_reset,
                                    log=lambda s: print(s, file=sys.stderr))
    bisect.print_lines(bisect.read(json_path))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number, 1 or more. Received: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="tfcanary", description="TensorFlow/Keras version canary.")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summary", help="outcome counts per environment")
    p.add_argument("paths", nargs="*", default=["results"])
    p.add_argument("--write", help="also write the summary to this file")
    p.add_argument("--expect-default", action="store_true",
                   help="also list default-matrix environments that have no results, and why")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("list", help="list the corpus")
    p.add_argument("--cases", action="append", default=None)
    p.add_argument("--select", action="append", default=[])
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("speed", help="eager/graph and eager/XLA ratios with 95%% CIs per environment")
    p.add_argument("paths", nargs="*", default=["results/speed"])
    p.add_argument("--csv", help="also write the table as CSV (the reports' --speedups file)")
    p.set_defaults(func=cmd_speed)

    p = sub.add_parser("matrix", help="list the matrix")
    p.add_argument("--full", action="store_true")
    p.set_defaults(func=cmd_matrix)

    p = sub.add_parser("report", help="write the version matrix, reports/index.html")
    p.add_argument("paths", nargs="*", default=["results"])
    p.add_argument("--out", default="reports")
    p.add_argument("--speedups", help="speed table (CSV or JSON records) with env, case, ratio_* columns "
                                      "(default: <results>/speed/speedups.csv when there is one)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("upgrade", help="write the upgrade-risk report from environment A to B")
    p.add_argument("a", help="the environment you have, e.g. tf2.15")
    p.add_argument("b", help="the environment you would upgrade to, e.g. tf2.21")
    p.add_argument("--results", action="append", help="results folder or file (default: results)")
    p.add_argument("--out", default="reports")
    p.add_argument("--speedups", help="speed table (CSV or JSON records) with env, case, ratio_* columns "
                                      "(default: <results>/speed/speedups.csv when there is one)")
    p.set_defaults(func=cmd_upgrade)

    p = sub.add_parser("check", help="compare results with the snapshots; exit 1 on transitions")
    p.add_argument("--results", action="append", help="results folder or file (default: results)")
    p.add_argument("--snapshots", help="snapshot folder (default: the one recorded in the results: "
                   "<corpus>/snapshots for a user's corpus, snapshots/ for this repo's)")
    p.add_argument("--update", action="store_true", help="rewrite the snapshots from the results")
    p.add_argument("--junit", help="write JUnit XML here")
    p.add_argument("--markdown", help="write a Markdown summary (under 1 MiB) here")
    p.add_argument("--max-age", type=float, metavar="DAYS",
                   help="fail (exit 2) when the newest results are older than DAYS days")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help="probe your own case folder, or run your test suite, in chosen "
                                   "environments (built in a cache)")
    p.add_argument("--cases", action="append", default=None,
                   help="case folder (repeatable; default: cases, unless --pytest is given)")
    p.add_argument("--pytest", action="append", default=[], metavar="PATH",
                   help="run this test file, folder or node id with pytest in each environment "
                        "(repeatable); one outcome per test")
    p.add_argument("--pytest-args", default="", metavar="'...'",
                   help="more pytest arguments, e.g. '-m \"not slow\" -p no:randomly' (use --pytest-args='-x' "
                        "for a single option)")
    p.add_argument("--no-reset", action="store_true",
                   help="no hermetic reset of global TensorFlow/Keras state between tests")
    p.add_argument("--env", action="append", default=[],
                   help="matrix label, e.g. tf2.15 (repeatable; default: the default matrix)")
    p.add_argument("--with", dest="with_placeholder", metavar="SPEC", action="append",
                   help="also install this into every environment: -e ., -r requirements.txt, "
                        "mypkg==1.2 (repeatable; paths relative to the working directory)")
    p.add_argument("--select", action="append", default=[],
                   help="case id, family or tag pattern; for tests a node id, a prefix of one or a -k "
                        "expression (repeatable; merges into the results)")
    p.add_argument("--results", default="results", help="results folder (default: results)")
    p.add_argument("--out", default="reports", help="reports folder (default: reports)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per (case, variant, mode)")
    p.add_argument("--shuffle", metavar="SEED", type=int, help="passed to the probe: run the items in a seeded order")
    p.add_argument("--jobs", metavar="N", type=_positive_int, help="passed to the probe: workers in parallel")
    p.add_argument("--gpu", action="store_true", help="install the CUDA build of TensorFlow")
    p.add_argument("--speed", action="store_true",
                   help="also time eager vs tf.function vs XLA for the fixed variants and --workloads "
                        "(results/speed/<env>.json)")
    p.add_argument("--no-probe", action="store_true", help="with --speed: time only, probe nothing")
    p.add_argument("--workloads", action="append", default=[], metavar="DIR",
                   help="a folder of workloads to time beside the fixed variants (repeatable)")
    p.add_argument("--timer-args", default="", metavar="'...'",
                   help="the timer's options, e.g. '--processes 5 --repeats 30'")
    p.add_argument("--snapshots", help="where this corpus's snapshots live (default: <cases>/snapshots)")
    p.add_argument("--pins", metavar="FILE", help="exact versions for the nightly environment "
                                                   "(name==version lines, as `tfcanary nightly pin` writes)")
    p.add_argument("--venv", help="use this virtual environment (one --env only) instead of the cache's")
    p.add_argument("--no-report", action="store_true", help="write results only: no reports, no summary")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("envs", help="list the environments tfcanary run keeps in its cache, or remove them")
    p.add_argument("--remove", action="append", default=[], metavar="LABEL", help="delete this one (repeatable)")
    p.add_argument("--all", action="store_true", help="delete every cached environment")
    p.set_defaults(func=cmd_envs)

    p = sub.add_parser("bisect", help="the first release or nightly at which outcomes changed from A to B")
    p.add_argument("a", help="the older environment: a label with a results file (tf2.16) or pins "
                             "(tensorflow-cpu==2.16.2,keras==3.4.1)")
    p.add_argument("b", help="the newer environment, the same way (tf2.21, nightly)")
    p.add_argument("--results", action="append", help="results folder with <label>.json (default: results)")
    p.add_argument("--cases", action="append", default=None,
                   help="case folder or file (default: cases, unless --pytest is given)")
    p.add_argument("--pytest", action="append", default=[], metavar="PATH",
                   help="your test suite's paths: bisect its tests' transitions too (repeatable)")
    p.add_argument("--pytest-args", default="", metavar="'...'", help="more pytest arguments, as for run")
    p.add_argument("--no-reset", action="store_true", help="no hermetic reset between tests, as for run")
    p.add_argument("--select", action="append", default=[],
                   help="case id, family or tag pattern; a test's node id or a prefix of one (repeatable)")
    p.add_argument("--case", help="bisect only this case id or test node id (with --variant and --mode)")
    p.add_argument("--variant", choices=("broken", "fixed", "test"))
    p.add_argument("--mode")
    p.add_argument("--high-risk", action="store_true",
                   help="only the changes the upgrade report ranks high risk (needs both results files)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per (case, variant, mode)")
    p.add_argument("--python", default="3.11", help="Python of the environments built (default 3.11)")
    p.add_argument("--out", help="folder for <A>--<B>.json and .md (default: <results>/bisect)")
    p.add_argument("--with", dest="with_placeholder", metavar="SPEC", action="append",
                   help="also install this at every point: -e ., -r requirements.txt (repeatable)")
    p.set_defaults(func=cmd_bisect)

    from .nightly.cli import add_parser as add_nightly_parser
    from .nightly.init_ci import add_parser as add_init_ci_parser

    add_nightly_parser(sub)
    add_init_ci_parser(sub)
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with_specs: List[str] = []
    try:
        if argv[:1] in (["run"], ["bisect"], ["init-ci"]) or argv[:2] == ["nightly", "check"]:
            argv, with_specs = split_with(argv)
        args = build_parser().parse_args(argv)
        args.with_specs = with_specs
        if getattr(args, "cases", "unset") is None:    # the default corpus, unless a suite is given
            args.cases = [] if getattr(args, "pytest", None) else ["cases"]
        if getattr(args, "results", "unset") is None:
            args.results = ["results"]
        return args.func(args)
    except UserError as exc:
        print(f"tfcanary: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tfcanary: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # the reader went away (`tfcanary list | head`): stop as a shell would
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 128 + 13
    except Exception:  # noqa: BLE001 -- anything else is our bug: say so, with the traceback
        traceback.print_exc()
        print("tfcanary: internal error (exit 3): this is a bug in tfcanary, not in your input; "
              "please report it with the traceback above.", file=sys.stderr)
        return INTERNAL_ERROR
