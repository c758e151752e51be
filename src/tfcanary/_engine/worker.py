"""The workers' side of the supervisor's protocol, and the probe's worker.

A worker is started by :class:`tfcanary._engine.supervise.Supervisor` as
``main.py <tool>-worker --plan PLAN --events-fd N --items-dir DIR --parent PID
[--meta]``, in its own process group.  It sets itself up (imports TensorFlow
once), writes the events of the protocol as JSON lines to the pipe ``N``:

- ``meta`` (with ``--meta``): the environment's metadata, once;
- ``plan`` (when the supervisor was given no items: a test suite's worker, once
  pytest collected): ``items``, and whatever else the tool reports with them;
- ``ready``: set up, waiting for items;
- per item ``start`` then ``outcome`` (the outcome as a dict);
- ``done`` at the end of its input.

and reads one assignment per line on stdin, ``{"i": 3, "key": [...], "next": 4,
"next_key": [...]}`` (``i`` indexes the plan's items and ``key`` is that item;
``next`` is the item that will probably follow, or null).  An item that crashes or hangs the worker is known by its ``start``
without an ``outcome``.  Every worker dies with its supervisor
(:func:`tfcanary._engine.supervise.die_with_parent`).  TensorFlow's log output
goes to the worker's stdout and stderr, which the supervisor sends to a log file.

:func:`serve` is the loop every worker runs; :func:`probe_worker_main` is the
probe's worker: each item is one (case, variant, mode) run by
:func:`tfcanary._engine.modes.run_item`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import IO, Any, Callable, Dict, Iterator, List, Optional

from tfcanary._engine import supervise


class Events:
    """The pipe to the supervisor: one JSON object per line."""

    def __init__(self, fd: int) -> None:
        self.stream = os.fdopen(fd, "w", encoding="utf-8")

    def emit(self, event: Dict[str, Any]) -> None:
        self.stream.write(json.dumps(event) + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.stream.close()


def parser(description: str) -> argparse.ArgumentParser:
    """The options every worker takes (the supervisor passes all but ``--plan``)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--plan", required=True, help="JSON: the run's plan (cases, items, settings)")
    ap.add_argument("--events-fd", required=True, type=int, help="pipe to write JSON-line events to")
    ap.add_argument("--items-dir", required=True, help="folder for the items' working directories")
    ap.add_argument("--parent", type=int, default=None, help="the supervisor's pid: die with it")
    ap.add_argument("--meta", action="store_true", help="report the environment's metadata first")
    return ap


def start(args: argparse.Namespace) -> Dict[str, Any]:
    """A worker's first steps: die with the supervisor, read the plan."""
    if args.parent is not None:
        supervise.die_with_parent(args.parent)
    with open(args.plan, encoding="utf-8") as f:
        return json.load(f)


# run(i, assignment) -> the outcome of item i as a dict (the assignment as read: key, next, next_key)
RunItem = Callable[[int, Dict[str, Any]], Dict[str, Any]]


def assignments(stream: Optional[IO[str]] = None) -> Iterator[Dict[str, Any]]:
    """The assignments read from ``stream`` (stdin), one JSON object a line, until its end."""
    stream = stream or sys.stdin
    while True:
        line = stream.readline()
        if not line:
            return
        if line.strip():
            yield json.loads(line)


def serve(events: Events, run: RunItem, stream: Optional[IO[str]] = None, close: bool = True) -> None:
    """Say ``ready``, then run each assignment read from ``stream`` (stdin) until its end."""
    events.emit({"event": "ready"})
    for msg in assignments(stream):
        i = int(msg["i"])
        events.emit({"event": "start", "i": i})
        events.emit({"event": "outcome", "i": i, "outcome": run(i, msg)})
    if close:
        events.emit({"event": "done"})
        events.close()


def import_tensorflow() -> tuple:
    """``(tf, keras, np, seconds)``: the environment's TensorFlow, tf.keras and NumPy, logs quieted."""
    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf

    keras = tf.keras
    seconds = time.perf_counter() - t0
    try:
        tf.get_logger().setLevel("ERROR")
        import absl.logging  # type: ignore

        absl.logging.set_verbosity(absl.logging.ERROR)
    except Exception:  # quieter logs are a nicety, not a requirement
        pass
    return tf, keras, np, seconds


def probe_worker_main(argv: Optional[List[str]] = None) -> int:
    """The probe's worker: one (case, variant, mode) per item of the plan."""
    from tfcanary import corpus as _corpus
    from tfcanary._engine import metadata, modes

    args = parser(probe_worker_main.__doc__ or "").parse_args(argv)
    plan = start(args)
    events = Events(args.events_fd)
    tf, keras, np, import_s = import_tensorflow()
    corpus = _corpus.load(plan["cases"], modules=plan.get("modules"))   # those the probe's scan loaded
    by_id = {c.id: c for c in corpus.cases}
    if args.meta:
        events.emit({"event": "meta", "import_s": round(import_s, 3),
                     "metadata": metadata.collect(tf, keras, np)})
    items_dir = os.path.realpath(args.items_dir)
    os.chdir(items_dir)
    driver = modes.Driver(tf, keras, np)
    items = plan["items"]

    def run(i: int, _assignment: Dict[str, Any]) -> Dict[str, Any]:
        case_id, variant, mode = items[i]
        case = by_id.get(case_id)
        if case is None:
            return modes.not_loaded(case_id, variant, mode)
        return modes.run_item(driver, case, variant, mode, items_dir)

    serve(events, run)
    return 0
