"""asv benchmarks: eager vs graph vs XLA per case, and the probe's outcome counts.

asv runs these inside each environment of asv.conf.json (one matrix entry,
installed by tfcanary.envs.asv.install).  TensorFlow is never imported here:
each ``setup_cache`` runs the whole corpus once per environment in subprocesses
(the timer, the probe), and every ``track_*`` only reads that one result.

Direction: asv flags an *increase* as a regression, so every figure is tracked
so that up is worse: time ratios are graph-time/eager-time and
XLA-time/eager-time (the inverse of the speedup; up = the compiled mode gains
less), absolute medians are milliseconds per call, counts of failures are
counts.  The speedup itself (eager/graph) is in results/speed/<env>.json.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [ROOT / "cases"]                       # the failure corpus: what the probe runs
TIMED = [ROOT / "cases", ROOT / "workloads"]    # what the timer times
STATUSES = ["ok", "error", "crash", "timeout", "skip"]


def _entry():
    """The matrix entry asv is running in (from its env axes), or None outside asv."""
    from tfcanary.envs import asv as asvconf

    tf, keras = os.environ.get(asvconf.TF_VAR), os.environ.get(asvconf.KERAS_VAR)
    return asvconf.entry_for(tf, keras) if tf and keras else None


def _select_args(tool):
    """For a quick look, not for the history: TFCANARY_SELECT=pattern,pattern limits the
    corpus; TFCANARY_TIMER_ARGS="--processes 1 --repeats 10" changes the timer's settings."""
    import shlex

    args = [a for p in os.environ.get("TFCANARY_SELECT", "").split(",") if p for a in ("--select", p)]
    if tool == "time":
        args += shlex.split(os.environ.get("TFCANARY_TIMER_ARGS", ""))
    return args


def _run_engine(tool, corpus):
    """Run an engine tool (``probe``, ``time``) in this environment with tfcanary's launcher;
    return its JSON."""
    from tfcanary.envs import launch

    entry = _entry()
    label = entry.label if entry else "asv"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        args = [*[a for c in corpus for a in ("--cases", str(c))], "--label", label, "--out", str(out),
                *_select_args(tool)]
        proc = launch.launch(sys.executable, tool, args, env=dict(entry.env if entry else ()), capture=True)
        if not out.exists():
            raise RuntimeError(f"{tool} wrote nothing (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def _timed_case_ids():
    from tfcanary import corpus

    return [c.id for c in corpus.load(TIMED).cases if c.kind == "layer" and "fixed" in c.variants]


class Speed:
    """Per case: steady-state time ratios, absolute medians and first-call costs."""

    params = _timed_case_ids()
    param_names = ["case"]
    timeout = 1800

    def setup_cache(self):
        doc = _run_engine("time", TIMED)
        return {e["case"]: e.get("summary") or {} for e in doc["results"]}

    def setup(self, summaries, case):
        if summaries.get(case, {}).get("ratio_graph") is None:
            raise NotImplementedError(f"{case}: no timing in this environment")

    def _get(self, summaries, case, key, scale=1.0):
        v = summaries[case].get(key)
        if v is None:
            raise NotImplementedError(f"{case}: no {key}")
        return v * scale

    def track_graph_over_eager(self, s, case):
        return 1.0 / self._get(s, case, "ratio_graph")
    track_graph_over_eager.unit = "graph time / eager time (up = tf.function gains less)"

    def track_xla_over_eager(self, s, case):
        return 1.0 / self._get(s, case, "ratio_xla")
    track_xla_over_eager.unit = "XLA time / eager time (up = XLA gains less)"

    def track_eager_ms(self, s, case):
        return self._get(s, case, "eager_median_s", 1000.0)
    track_eager_ms.unit = "ms per eager call (median)"

    def track_graph_ms(self, s, case):
        return self._get(s, case, "graph_median_s", 1000.0)
    track_graph_ms.unit = "ms per tf.function call (median)"

    def track_xla_ms(self, s, case):
        return self._get(s, case, "xla_median_s", 1000.0)
    track_xla_ms.unit = "ms per XLA call (median)"

    def track_trace_s(self, s, case):
        return self._get(s, case, "trace_s")
    track_trace_s.unit = "s: first tf.function call minus steady state"

    def track_xla_compile_s(self, s, case):
        return self._get(s, case, "compile_s")
    track_xla_compile_s.unit = "s: first XLA call minus steady state minus tracing"


class Outcomes:
    """The probe's outcomes over the whole corpus, counted per status, and the
    fixed-variant outcomes that failed (error, crash or timeout): must be 0."""

    params = STATUSES + ["fixed-variant-failures"]
    param_names = ["count"]
    timeout = 1800

    def setup_cache(self):
        doc = _run_engine("probe", CASES)
        counts = {s: 0 for s in self.params}
        for o in doc["outcomes"]:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
            if o["variant"] == "fixed" and o["status"] in ("error", "crash", "timeout"):
                counts["fixed-variant-failures"] += 1
        return counts

    def track_outcomes(self, counts, what):
        return counts[what]
    track_outcomes.unit = "outcomes"
