"""The timer: eager vs tf.function vs XLA, inside one environment.

Started in an environment by :func:`tfcanary.envs.launch.launch` (``main.py
time``), like the probe; it needs the standard library, the engine's copy of
tfcanary and the environment's TensorFlow.

It times the ``fixed`` variant of every layer case.  The corpus is timed in
``--processes`` fresh worker processes, one after another, each run by the
probe's supervisor with one worker (:mod:`tfcanary._engine.supervise`: a
worker that crashes or hangs is recorded and replaced); each worker, per
case:

1. builds the case on the chosen device (``/GPU:0`` when there is one), makes
   the eager callable, a ``tf.function`` and a ``tf.function(jit_compile=True)``;
2. times each first call (eager build, tracing, XLA compile) once;
3. calibrates the calls per sample so one sample lasts about ``--target-ms``;
4. takes ``--repeats`` repeats with the garbage collector off, bound to one CPU
   (``--pin-cpu``, see :func:`_pin_cpu`); in each repeat
   the three modes run one after another, in a rotating order, and each sample
   ends by copying the last output to the host (``.numpy()``) before the clock
   stops, the same for every mode;
5. reads each function's tracing count before and after, to catch a retrace
   inside the steady state.

Thread pools are fixed (``--threads``, intra- and inter-op) before TensorFlow
runs anything, and recorded.  Every raw sample is written; the driver adds the
summary of :func:`tfcanary._engine.timing.summarize`.  A mode that raises is recorded as
an error of that mode; the case gets no ratio for it and the run goes on.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from tfcanary import corpus as _corpus
from tfcanary import results as _results
from tfcanary._engine import timing, worker
from tfcanary._engine.modes import Driver, exc_type_name
from tfcanary._engine.probe import status_counts
from tfcanary._engine.supervise import Supervisor, log_tail
from tfcanary.outcome import Outcome, Status

MAIN = Path(__file__).resolve().parent / "main.py"

SCHEMA_VERSION = 1
KIND = "speed"
DEFAULTS = {"processes": 3, "repeats": 20, "target_ms": 8.0, "threads": 1, "pin_cpu": -1,
            "target_hw": 0.05, "max_processes": 8, "budget_s": 170.0}


# ---------------------------------------------------------------- the worker

class Timer:
    """Times one case's three modes with real TensorFlow (inside a worker)."""

    def __init__(self, tf: Any, keras: Any, np: Any, device: str, settings: Dict[str, Any]) -> None:
        self.tf, self.keras, self.np = tf, keras, np
        self.device = device
        self.repeats = int(settings["repeats"])
        self.target_s = float(settings["target_ms"]) / 1000.0
        self.driver = Driver(tf, keras, np)
        self.driver.workdir = tempfile.gettempdir()

    def sync(self, out: Any) -> None:
        """Wait for ``out``: copy every tensor of it to the host."""
        for t in self.tf.nest.flatten(out):
            if hasattr(t, "numpy"):
                t.numpy()

    def callables(self, case: Any, built: Any) -> Tuple[Dict[str, Callable[[], Any]], Dict[str, Any]]:
        """The three timed callables, and the two tf.functions (for their tracing counts)."""
        tf = self.tf
        x = self.driver._input(built)
        if "train-step" in case.tags:
            body = self._train_step(built, x)
            y = built.y
            args = (x, tf.constant(y))
        else:
            layer = built.layer

            def body(t: Any) -> Any:
                return layer(t)
            args = (x,)
        graph = tf.function(body)
        xla = tf.function(body, jit_compile=True)
        calls = {"eager": lambda: body(*args), "graph": lambda: graph(*args), "xla": lambda: xla(*args)}
        return calls, {"graph": graph, "xla": xla}

    def _train_step(self, built: Any, x: Any) -> Callable[..., Any]:
        """One full training step: forward, loss, gradients, optimizer update."""
        tf, keras = self.tf, self.keras
        model = self.driver._model(built)
        if built.y is None:
            built.y = self.np.zeros_like(self.np.asarray(model(x)))
        loss_fn = keras.losses.MeanSquaredError()
        opt = keras.optimizers.SGD(learning_rate=0.01)

        def step(xb: Any, yb: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_weights)
            opt.apply_gradients(zip(grads, model.trainable_weights))
            return loss

        return step

    def _sample(self, fn: Callable[[], Any], loops: int) -> float:
        t0 = time.perf_counter()
        out = None
        for _ in range(loops):
            out = fn()
        self.sync(out)
        return time.perf_counter() - t0

    def time_case(self, case: Any) -> Dict[str, Any]:
        tf = self.tf
        modes: Dict[str, Dict[str, Any]] = {}
        rec: Dict[str, Any] = {"case": case.id, "variant": "fixed", "mode": KIND, "modes": modes}
        with tf.device(self.device):
            self.driver.hermetic.reset()   # fresh Keras session, default dtypes, seeds
            try:
                built = self.driver.build(case, "fixed")
                calls, fns = self.callables(case, built)
            except Exception as exc:  # a case that cannot be built is data
                rec.update(status="error", reason=f"build: {exc_type_name(exc)}: {exc}"[:2000])
                return rec
            active: List[str] = []
            for mode in timing.MODES:            # first calls, eager first: it builds the weights
                if mode in built.skip:
                    modes[mode] = {"status": "skip", "reason": built.skip[mode]}
                    continue
                if mode != "eager" and "eager" not in active:
                    modes[mode] = {"status": "skip", "reason": "eager failed: nothing to compare with"}
                    continue
                try:
                    first = self._sample(calls[mode], 1)
                    self._sample(calls[mode], 1)            # warm-up: caches, allocator
                    single = min(self._sample(calls[mode], 1) for _ in range(3))
                except Exception as exc:
                    modes[mode] = {"status": "error", "exc_type": exc_type_name(exc),
                                   "message": str(exc)[:2000]}
                    continue
                loops = timing.inner_loops(single, self.target_s)
                modes[mode] = {"status": "ok", "first_s": first, "loops": loops, "samples_s": []}
                active.append(mode)
            count = {m: self._tracing_count(fns[m]) for m in active if m in fns}
            gc.collect()
            gc.disable()
            try:
                for r in range(self.repeats):
                    for mode in timing.mode_order(r, active):
                        m = modes[mode]
                        try:
                            m["samples_s"].append(self._sample(calls[mode], m["loops"]))
                        except Exception as exc:
                            active.remove(mode)
                            modes[mode] = {"status": "error", "exc_type": exc_type_name(exc),
                                           "message": f"while sampling: {exc}"[:2000]}
            finally:
                gc.enable()
            for mode in active:
                m = modes[mode]
                m["per_call_s"] = timing.per_call(m["samples_s"], m["loops"])
                if mode in fns:
                    m["tracing_before"] = count.get(mode)
                    m["tracing_after"] = self._tracing_count(fns[mode])
        ok = [m for m in timing.MODES if modes.get(m, {}).get("status") == "ok"]
        if "eager" not in ok:
            rec["status"] = "skip" if modes.get("eager", {}).get("status") == "skip" else "error"
        else:
            rec["status"] = "ok" if len(ok) == len(timing.MODES) else "partial"
        return rec

    @staticmethod
    def _tracing_count(fn: Any) -> Optional[int]:
        try:
            return int(fn.experimental_get_tracing_count())
        except Exception:  # not in every TF; the retrace check is then skipped
            return None


def worker_main(argv: Optional[List[str]] = None) -> int:
    """The timer's worker: one case of the plan per item, its three modes timed."""
    from tfcanary._engine import metadata

    args = worker.parser(worker_main.__doc__ or "").parse_args(argv)
    plan = worker.start(args)
    settings = plan["settings"]
    events = worker.Events(args.events_fd)
    pinned = _pin_cpu(settings.get("cpu"))
    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf

    # Thread pools are fixed before TensorFlow runs its first op.
    tf.config.threading.set_intra_op_parallelism_threads(int(settings["threads"]))
    tf.config.threading.set_inter_op_parallelism_threads(int(settings["threads"]))
    keras = tf.keras
    import_s = time.perf_counter() - t0
    try:
        tf.get_logger().setLevel("ERROR")
    except Exception:  # quieter logs are a nicety
        pass
    meta = metadata.collect(tf, keras, np)
    device = timing.choose_device(meta["devices"], prefer_gpu=not settings.get("cpu_only"))
    meta["timing_device"] = device
    meta["device_name"] = _device_name(meta, device)
    meta["cpu_affinity"] = pinned
    meta["threads"] = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    if args.meta:
        events.emit({"event": "meta", "import_s": round(import_s, 3), "metadata": meta})
    corpus = _corpus.load(plan["cases"], modules=plan.get("modules"))   # those the scan loaded
    by_id = {c.id: c for c in corpus.cases}
    timer = Timer(tf, keras, np, device, settings)
    with tf.device(device):   # one-time tf.function/autograph/XLA set-up, not the first case's trace
        tf.function(lambda t: t + 1)(tf.constant(1.0)).numpy()
        tf.function(lambda t: t + 1, jit_compile=True)(tf.constant(1.0)).numpy()
    os.chdir(os.path.realpath(args.items_dir))
    items = plan["items"]

    def run(i: int, _assignment: Dict[str, Any]) -> Dict[str, Any]:
        case = by_id.get(items[i][0])
        t1 = time.perf_counter()
        if case is None:
            rec = Outcome(items[i][0], "fixed", KIND, Status.SKIP,
                          reason="case did not load in this environment (see corpus errors)").to_dict()
        else:
            try:
                rec = timer.time_case(case)
            except Exception as exc:  # a bug of the timer itself: recorded, the run goes on
                rec = Outcome(case.id, "fixed", KIND, Status.ERROR,
                              reason=f"timer failed: {type(exc).__name__}: {exc}"[:2000]).to_dict()
        rec["duration_s"] = round(time.perf_counter() - t1, 3)
        return rec

    worker.serve(events, run)
    return 0


def _pin_cpu(cpu: Optional[int]) -> Optional[List[int]]:
    """Bind this worker, and every thread TensorFlow starts later, to one CPU.

    With one intra-op and one inter-op thread, a tf.function call hands its ops
    to a pool thread and waits; when other processes load the machine, that
    hand-off between cores is where graph timings lose most.  On one core the
    hand-off is a context switch.  ``None`` leaves the affinity alone.
    """
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {allowed[cpu % len(allowed)]})
    return sorted(os.sched_getaffinity(0))


def _device_name(meta: Dict[str, Any], device: str) -> str:
    if device.startswith("/GPU"):
        gpus = [d for d in meta["devices"] if d.get("type") == "GPU"]
        return f"{device} {gpus[0].get('description') or gpus[0]['name']}" if gpus else device
    return f"{device} {meta.get('cpu') or ''}".strip()


# ---------------------------------------------------------------- the driver

def timed_cases(corpus: _corpus.Corpus) -> List[Any]:
    """The cases the timer times: layer cases with a ``fixed`` variant."""
    return [c for c in corpus.cases if c.kind == "layer" and "fixed" in c.variants]


def combine(records: List[Dict[str, Any]], n_boot: int = 2000) -> Dict[str, Any]:
    """One case's records from every process -> its result entry (raw runs + summary)."""
    statuses = [r.get("status") for r in records]
    good = [r for r in records if r.get("status") in ("ok", "partial")]
    status = good[0]["status"] if good else statuses[0]
    if good and any(r.get("status") == "partial" for r in good):
        status = "partial"
    entry: Dict[str, Any] = {"case": records[0]["case"], "status": status, "statuses": statuses,
                             "reasons": [r.get("reason") for r in records if r.get("reason")],
                             "runs": [r.get("modes") or {} for r in records]}
    entry["errors"] = sorted({f"{m}: {d.get('exc_type')}: {d.get('message', '')[:200]}"
                              for r in records for m, d in (r.get("modes") or {}).items()
                              if d.get("status") == "error"})
    entry["summary"] = timing.summarize([r["modes"] for r in good], n_boot=n_boot) if good else None
    return entry


def run(cases: List[str], label: str, out: Path, env: Optional[Dict[str, Any]] = None,
        select: List[str] = (), processes: int = DEFAULTS["processes"],
        repeats: int = DEFAULTS["repeats"], target_ms: float = DEFAULTS["target_ms"],
        threads: int = DEFAULTS["threads"], cpu: Optional[int] = DEFAULTS["pin_cpu"],
        cpu_only: bool = False, timeout: float = 120.0, startup_timeout: float = 300.0,
        target_hw: float = DEFAULTS["target_hw"], max_processes: int = DEFAULTS["max_processes"],
        budget_s: float = DEFAULTS["budget_s"]) -> Dict[str, Any]:
    """Time the corpus in this interpreter's environment and write ``out``.

    After ``processes`` fresh processes, the cases whose CI half-width is still
    above ``target_hw`` get more processes, one round at a time, up to
    ``max_processes`` in all and while the next round is expected to end
    within ``budget_s`` of the start.
    """
    t0 = time.perf_counter()
    corpus = _corpus.scan(cases).select(list(select))     # imported apart: see tfcanary.corpus.scan
    todo = timed_cases(corpus)
    items = [[c.id, "fixed", KIND] for c in todo]
    settings = {"processes": processes, "repeats": repeats, "target_ms": target_ms,
                "threads": threads, "cpu": cpu, "cpu_only": cpu_only, "gc": "disabled while sampling",
                "sync": "last output of each sample copied to the host (.numpy())",
                "order": "modes interleaved within each repeat, order rotated per repeat",
                "ci": "two-stage (process, repeat) percentile bootstrap of the median, 95 %"}
    settings.update(target_hw=target_hw, max_processes=max_processes, budget_s=budget_s)
    records: Dict[str, List[Dict[str, Any]]] = {c.id: [] for c in todo}
    metas: List[Dict[str, Any]] = []
    process_s: List[float] = []
    loadavg: List[Any] = []   # 1/5/15-minute load after each process: was the machine busy?
    tail: List[str] = []
    rounds = [items] * processes
    k = 0
    while k < len(rounds):
        round_items = rounds[k]
        workdir = Path(tempfile.mkdtemp(prefix="tfcanary-timer-"))
        plan_path = workdir / "plan.json"
        # One worker: a fresh process per round, replaced only after a crash or a hang.
        sup = Supervisor([sys.executable, str(MAIN), "time-worker", "--plan", str(plan_path)],
                         round_items, workdir, timeout, startup_timeout, jobs=1)
        try:
            plan_path.write_text(json.dumps({"cases": [str(Path(c).resolve()) for c in cases],
                                             "items": round_items, "settings": settings,
                                             "modules": corpus.modules}), encoding="utf-8")
            t1 = time.perf_counter()
            sup.run()
            process_s.append(round(time.perf_counter() - t1, 2))
            loadavg.append([round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None)
            tail = log_tail(sup.log_path)
        finally:
            sup.close()
            shutil.rmtree(workdir, ignore_errors=True)
        for i, item in enumerate(round_items):
            records[item[0]].append(sup.outcomes[i])
        if sup.meta is not None:
            metas.append(sup.meta)
        print(f"{label}: process {k + 1}/{len(rounds)} timed {len(round_items)} cases in {process_s[-1]:.1f} s",
              file=sys.stderr, flush=True)
        k += 1
        if k == len(rounds) and k < max_processes:
            wide = [it for it in items
                    if timing.needs_more(combine(records[it[0]], n_boot=500)["summary"], target_hw)]
            # One more round costs about the TensorFlow import plus each case's share of a full round.
            per_case = process_s[0] / max(1, len(items))
            expected = (metas[0].get("import_s") or 10.0 if metas else 10.0) + per_case * len(wide)
            if wide and time.perf_counter() - t0 + expected <= budget_s:
                rounds.append(wide)
    entries = []
    described = {c.id: c.describe() for c in todo}
    for c in todo:
        entry = combine(records[c.id])
        entry.update(family=c.family, tags=list(c.tags))
        entries.append(entry)
    meta = dict((metas[0] if metas else {}).get("metadata") or {})
    meta["date"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta["released"] = (env or {}).get("released")
    doc = {
        "schema": SCHEMA_VERSION, "kind": KIND, "label": label,
        "status": "ok" if metas else "probe-failed",
        "env": env or {"label": label}, "metadata": meta, "settings": settings,
        "timing": {"import_s": [m.get("import_s") for m in metas], "process_s": process_s, "loadavg": loadavg,
                   "total_s": round(time.perf_counter() - t0, 2)},
        "cases": [described[c.id] for c in todo],
        "corpus_errors": [e.to_dict() for e in corpus.errors],
        "results": entries,
    }
    if not metas:
        doc["message"] = "\n".join(tail) or "the timer worker never reported"
    _results.write_json_atomic(out, doc)
    return doc


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="main.py time", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", action="append", required=True, help="case folder or file (repeatable)")
    ap.add_argument("--label", required=True, help="the environment's label, e.g. tf2.15")
    ap.add_argument("--out", type=Path, required=True, help="speed results file to write")
    ap.add_argument("--env-json", default=None, help="the matrix entry, as JSON")
    ap.add_argument("--select", action="append", default=[], help="case id/family/tag pattern")
    ap.add_argument("--processes", type=int, default=DEFAULTS["processes"], help="fresh processes")
    ap.add_argument("--repeats", type=int, default=DEFAULTS["repeats"], help="repeats per process")
    ap.add_argument("--target-ms", type=float, default=DEFAULTS["target_ms"], help="length of one sample")
    ap.add_argument("--threads", type=int, default=DEFAULTS["threads"], help="intra- and inter-op threads")
    ap.add_argument("--cpu-only", action="store_true", help="time on the CPU even when a GPU is present")
    ap.add_argument("--pin-cpu", type=int, default=DEFAULTS["pin_cpu"], metavar="N",
                    help="bind each worker to the N-th allowed CPU (default -1: the last; see _pin_cpu)")
    ap.add_argument("--no-pin", dest="pin_cpu", action="store_const", const=None,
                    help="leave the workers' CPU affinity alone")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per case and process")
    ap.add_argument("--target-hw", type=float, default=DEFAULTS["target_hw"],
                    help="CI half-width (0.05: +-5 %%) above which a case gets more processes")
    ap.add_argument("--max-processes", type=int, default=DEFAULTS["max_processes"],
                    help="most fresh processes per case, the extra rounds included")
    ap.add_argument("--budget-s", type=float, default=DEFAULTS["budget_s"],
                    help="start no extra round that would end later than this after the start")
    args = ap.parse_args(argv)
    doc = run(args.cases, args.label, args.out,
              env=json.loads(args.env_json) if args.env_json else None, select=args.select,
              processes=args.processes, repeats=args.repeats, target_ms=args.target_ms,
              threads=args.threads, cpu=args.pin_cpu, cpu_only=args.cpu_only, timeout=args.timeout,
              target_hw=args.target_hw, max_processes=args.max_processes, budget_s=args.budget_s)
    print(f"{args.label}: timed {len(doc['results'])} cases {status_counts(doc['results'])}"
          f" in {doc['timing']['total_s']:.0f} s on {doc['metadata'].get('device_name')}; wrote {args.out}")
    return 0 if doc["status"] == "ok" else 1

