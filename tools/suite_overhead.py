"""Measure what running a test suite through tfcanary costs against plain pytest, on this machine.

    python tools/suite_overhead.py PROJECT --env tf2.15 --env tf2.21 [--rounds 5] [--tfcanary PATH]

Not an asv benchmark (each round runs whole test suites, a minute or more).  In PROJECT (a
repository with its tests in tests/, installable with -e .), for each environment, already
built and warm (run ``tfcanary run --pytest tests --env L --with -e .`` once first): each round
runs ``tfcanary run --pytest tests --env L --with -e . --no-report`` and plain ``python -m
pytest tests`` in the same environment, one right after the other, in alternating order, so
both see the same machine load.  Prints one JSON line per environment: the median wall time of
each, the median of the paired ratios tfcanary / plain with its range, and the rounds; then one
line for all environments in one tfcanary command against the plain runs one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _wall(cmd, cwd, env):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return wall


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("project", type=Path)
    ap.add_argument("--env", action="append", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tfcanary", default="tfcanary", help="the tfcanary command (an installed copy)")
    ap.add_argument("--cache", default=os.environ.get("TFCANARY_CACHE"), help="TFCANARY_CACHE")
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if args.cache:
        env["TFCANARY_CACHE"] = args.cache
    cache = Path(env.get("TFCANARY_CACHE") or Path.home() / ".cache" / "tfcanary")
    results = args.project / "overhead-results"
    for label in args.env:
        python = cache / "envs" / label / "bin" / "python"
        plain_env = {**env, **({"TF_USE_LEGACY_KERAS": "1"} if label.endswith("-legacy") else {})}
        ours_cmd = [args.tfcanary, "run", "--pytest", "tests", "--env", label, "--with", "-e", ".",
                    "--no-report", "--results", str(results)]
        plain_cmd = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
        ours, plain = [], []
        for r in range(args.rounds):
            pair = [("tfcanary", ours_cmd, env, ours), ("plain", plain_cmd, plain_env, plain)]
            for _name, cmd, e, into in (pair if r % 2 == 0 else pair[::-1]):
                into.append(_wall(cmd, args.project, e))
        ratios = sorted(o / p for o, p in zip(ours, plain))
        print(json.dumps({"env": label, "rounds": args.rounds,
                          "tfcanary_s": round(statistics.median(ours), 2), "plain_s": round(statistics.median(plain), 2),
                          "ratio": round(statistics.median(ratios), 3),
                          "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
                          "tfcanary_all_s": [round(x, 2) for x in ours], "plain_all_s": [round(x, 2) for x in plain],
                          "loadavg": [round(x, 2) for x in os.getloadavg()]}), flush=True)
    # All environments in one command, against plain pytest in each one after the other.
    all_cmd = [args.tfcanary, "run", "--pytest", "tests", *[a for e in args.env for a in ("--env", e)],
               "--with", "-e", ".", "--no-report", "--results", str(results)]
    ours_all, plain_all = [], []
    for r in range(args.rounds):
        t_ours = _wall(all_cmd, args.project, env)
        t_plain = 0.0
        for label in args.env:
            python = cache / "envs" / label / "bin" / "python"
            plain_env = {**env, **({"TF_USE_LEGACY_KERAS": "1"} if label.endswith("-legacy") else {})}
            t_plain += _wall([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                             args.project, plain_env)
        ours_all.append(t_ours)
        plain_all.append(t_plain)
    ratios = sorted(o / p for o, p in zip(ours_all, plain_all))
    print(json.dumps({"envs": args.env, "rounds": args.rounds,
                      "tfcanary_s": round(statistics.median(ours_all), 2),
                      "plain_s": round(statistics.median(plain_all), 2),
                      "ratio": round(statistics.median(ratios), 3),
                      "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
