"""Measure the bisection targets of bisection on this machine (not an asv benchmark: asv collects
``benchmarks/`` only, and these runs build environments, minutes each).

    PYTHONPATH=src python tools/bisect_targets.py single            # one transition across Keras 3
    PYTHONPATH=src python tools/bisect_targets.py batch --results results   # all of tf2.16 -> tf2.21

``single`` bisects ``sequential-model-output/broken/script`` from Keras 3.0.5 to 3.15.1 with
``tensorflow-cpu==2.16.2`` held, in a fresh environment cache (``--cache``, default a temporary
folder, removed afterwards) so that every environment is built, from uv's cache when it is warm.
Target: at most ceil(log2(n)) + 2 environments probed (n = candidate versions), at most 4 minutes.
``batch`` bisects every transition between two labels' results files in one run (target: far fewer
environments than one bisection per transition).  Each prints one JSON line with the figures; the
bisection files go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tfcanary.bisect import run as bisection  # noqa: E402


def _figures(json_path: Path, wall: float) -> dict:
    doc = bisection.read(json_path)
    n = len(doc["path"]) - 1          # candidate versions after A, B included
    states = {}
    for t in doc["transitions"]:
        states[t["state"]] = states.get(t["state"], 0) + 1
    return {"a": doc["a"]["name"], "b": doc["b"]["name"], "candidates": n,
            "bound_log2_plus_2": math.ceil(math.log2(max(n, 1))) + 2,
            "environments_probed": doc["environments_probed"], "probes": doc["probes"],
            "environments_built": doc["environments_built"], "transitions": len(doc["transitions"]),
            "states": states, "wall_s": round(wall, 1), "file": str(json_path),
            "lines": [t["line"] for t in doc["transitions"]]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", choices=("single", "batch"))
    ap.add_argument("--results", default="results", help="results folder (batch)")
    ap.add_argument("--a", default=None)
    ap.add_argument("--b", default=None)
    ap.add_argument("--out", default=None, help="where the bisection files go (default: a temp folder)")
    ap.add_argument("--cache", default=None, help="environment cache (single: default a fresh temp folder)")
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="tfcanary-bisect-out-"))
    fresh = None
    if args.cache:
        os.environ["TFCANARY_CACHE"] = args.cache
    elif args.target == "single":
        fresh = tempfile.mkdtemp(prefix="tfcanary-bisect-cache-", dir=str(Path.home() / ".cache"))
        os.environ["TFCANARY_CACHE"] = fresh
    t0 = time.perf_counter()
    try:
        if args.target == "single":
            json_path, _ = bisection.run(
                args.a or "tensorflow-cpu==2.16.2,keras==3.0.5", args.b or "tensorflow-cpu==2.16.2,keras==3.15.1",
                [args.results], [str(ROOT / "cases")], only=("sequential-model-output", "broken", "script"),
                out_dir=str(out), log=lambda s: print(s, file=sys.stderr))
        else:
            json_path, _ = bisection.run(args.a or "tf2.16", args.b or "tf2.21", [args.results],
                                         [str(ROOT / "cases")], out_dir=str(out),
                                         log=lambda s: print(s, file=sys.stderr))
        print(json.dumps(_figures(json_path, time.perf_counter() - t0)))
    finally:
        if fresh:
            shutil.rmtree(fresh, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
