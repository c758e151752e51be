"""Check the timer against an independent ``timeit`` of the same layer in the same environment.

    tfcanary run --cases cases --env tf2.21 --with -e . --speed     # results/speed/tf2.21.json
    python tools/speed_vs_timeit.py results/speed/tf2.21.json --cases cases \\
        --case gated-residual-weight-names --python ~/.cache/tfcanary/envs/tf2.21/bin/python

For one case of a speed results file, this builds the case's ``fixed`` layer
and its input again in that environment's Python, with the thread settings
(intra- and inter-op threads) and the CPU binding the file records, and times
``layer(x)`` (eager) and ``tf.function(lambda t: layer(t))(x)`` (graph) with
the standard library's ``timeit`` in ``--processes`` fresh processes: in each,
``--rounds`` rounds, each one
``timeit.repeat`` of eager then of graph (``number`` calibrated by
``Timer.autorange``; ``--stat``: the median of the repeats, the timer's statistic,
or their minimum), garbage collector off as ``timeit`` does, inside ``with
tf.device(...)`` on the timer's recorded device as the timer does (``--no-device``:
outside it).  It prints the
timer's eager/graph ratio with its 95 % CI, the ``timeit`` ratio (median over
rounds of eager per call / graph per call, with the spread of those ratios),
and their relative difference.  It shares nothing with the timer's code but
the case loader (``tfcanary.corpus``, from the engine's copy of tfcanary).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, os, statistics, sys, timeit
cfg = json.loads(sys.argv[1])
if cfg["cpus"] and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, set(cfg["cpus"]))
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(cfg["intra"])
tf.config.threading.set_inter_op_parallelism_threads(cfg["inter"])
tf.get_logger().setLevel("ERROR")
import contextlib
from tfcanary import corpus
case = {c.id: c for c in corpus.load(cfg["cases"]).cases}[cfg["case"]]
stat = {"median": statistics.median, "min": min}[cfg["stat"]]
scope = tf.device(cfg["device"]) if cfg["device"] else contextlib.nullcontext()
with scope:
    tf.keras.utils.set_random_seed(0)
    built = case.variants["fixed"](tf, tf.keras)
    layer, x = built.layer, tf.constant(built.x)
    graph_fn = tf.function(lambda t: layer(t))
    eager = lambda: layer(x)
    graph = lambda: graph_fn(x)
    for fn in (eager, graph, eager, graph):        # build the weights, trace, warm caches
        fn().numpy()
    numbers = {name: timeit.Timer(fn).autorange()[0] for name, fn in (("eager", eager), ("graph", graph))}
    rows = []
    for _ in range(cfg["rounds"]):
        row = {}
        for name, fn in (("eager", eager), ("graph", graph)):
            row[name] = stat(timeit.repeat(fn, number=numbers[name], repeat=cfg["repeat"])) / numbers[name]
        rows.append(row)
print(json.dumps({"rows": rows, "numbers": numbers, "affinity": sorted(os.sched_getaffinity(0)),
                  "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                              tf.config.threading.get_inter_op_parallelism_threads()],
                  "tensorflow": tf.__version__}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("speed_file", type=Path, help="a speed results file (results/speed/<env>.json)")
    ap.add_argument("--case", required=True, help="the case id to time again")
    ap.add_argument("--cases", action="append", required=True, help="the case folder(s) the file was timed from")
    ap.add_argument("--python", required=True, help="the environment's Python (its TensorFlow, your package)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes, one after another (default 3)")
    ap.add_argument("--rounds", type=int, default=15, help="rounds of eager-then-graph per process (default 15)")
    ap.add_argument("--repeat", type=int, default=5, help="timeit repeats per mode and round")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="of a round's repeats (default median: the timer's statistic; min: timeit's advice)")
    ap.add_argument("--no-device", action="store_true",
                    help="call outside `with tf.device(...)` (the timer calls inside it, on its recorded device)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from tfcanary.envs import launch

    doc = json.loads(args.speed_file.read_text(encoding="utf-8"))
    entry = next(e for e in doc["results"] if e["case"] == args.case)
    s, meta = entry["summary"], doc["metadata"]
    threads = meta.get("threads") or {"intra_op": 1, "inter_op": 1}
    cfg = {"cases": [str(Path(c).resolve()) for c in args.cases], "case": args.case, "rounds": args.rounds,
           "repeat": args.repeat, "cpus": meta.get("cpu_affinity"), "stat": args.stat,
           "device": None if args.no_device else meta.get("timing_device"),
           "intra": threads["intra_op"], "inter": threads["inter_op"]}
    per_process, rows = [], []
    for _ in range(args.processes):
        proc = subprocess.run([args.python, "-c", SCRIPT, json.dumps(cfg)], capture_output=True, text=True,
                              env=launch.environ({"PYTHONPATH": str(launch.engine_root())}))
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        rows += got["rows"]
        per_process.append(statistics.median(r["eager"] / r["graph"] for r in got["rows"]))
    ratios = sorted(r["eager"] / r["graph"] for r in rows)
    ratio = statistics.median(ratios)
    eager = statistics.median(r["eager"] for r in rows)
    graph = statistics.median(r["graph"] for r in rows)
    print(f"{doc['label']} {args.case}: TF {got['tensorflow']}, threads {got['threads']}, CPUs {got['affinity']}, "
          f"device scope {cfg['device']} (the timer's: threads {threads}, CPUs {meta.get('cpu_affinity')}, "
          f"{meta.get('timing_device')}); timeit: {args.stat} of {args.repeat} repeats per round")
    print(f"  timer  eager/graph {s['ratio_graph']:.3f} [{s['ratio_graph_lo']:.3f}, {s['ratio_graph_hi']:.3f}] "
          f"+-{100 * s['ratio_graph_hw']:.1f} %  eager {1e3 * s['eager_median_s']:.4f} ms  "
          f"graph {1e3 * s['graph_median_s']:.4f} ms  ({s.get('runs')} processes)")
    print(f"  timeit eager/graph {ratio:.3f} (per process: {', '.join(f'{r:.3f}' for r in per_process)}; "
          f"rounds {ratios[0]:.3f} .. {ratios[-1]:.3f}, {len(ratios)} in all)  "
          f"eager {1e3 * eager:.4f} ms  graph {1e3 * graph:.4f} ms  (number {got['numbers']})")
    diff = ratio / s["ratio_graph"] - 1
    print(f"  timeit vs timer: {100 * diff:+.1f} %  ({'within' if abs(diff) <= 0.10 else 'OUTSIDE'} 10 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
