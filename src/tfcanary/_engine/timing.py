"""Statistics of the eager/graph/XLA timing: pure functions on raw samples.

The timer (:mod:`tfcanary._engine.timer`) keeps every raw sample; this module turns
them into the figures that are reported, and nothing else.  It is used inside
each TensorFlow environment (to summarise a run before writing it) and on the
host (tests, reports), so it depends on the standard library only.

The protocol the figures assume: in each *repeat* the three modes are timed
one after another (interleaved), so a repeat's eager and graph samples saw the
same machine load.  The eager/graph ratio of a repeat is therefore a *paired*
ratio; load that slows everything by 30 % cancels out of it.  The estimate is
the median of the paired ratios, pooled over several fresh processes, with a
two-stage (process, then repeat) percentile bootstrap confidence interval.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

MODES = ("eager", "graph", "xla")
RATIOS = {"graph": ("eager", "graph"), "xla": ("eager", "xla")}   # name -> (numerator, denominator)

Samples = Sequence[float]


def median(xs: Samples) -> float:
    """The sample median (mean of the two middle values for an even count)."""
    if not xs:
        raise ValueError("Expected at least one sample. Received: an empty list.")
    return float(statistics.median(xs))


def paired_ratios(num: Samples, den: Samples) -> List[float]:
    """``num[i] / den[i]`` for every repeat ``i`` where both samples exist.

    The two lists are index-aligned: sample ``i`` of each mode was taken in
    repeat ``i``.  A missing (``None``) or non-positive sample drops the pair.
    """
    if len(num) != len(den):
        raise ValueError(f"Expected paired samples of equal length. Received: {len(num)} and {len(den)}.")
    return [a / b for a, b in zip(num, den)
            if a is not None and b is not None and a > 0 and b > 0]


def _percentile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default, "type 7")."""
    if not sorted_xs:
        raise ValueError("Expected at least one value.")
    pos = (len(sorted_xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def bootstrap_ci(xs: Samples, stat: Callable[[Samples], float] = median, n_boot: int = 2000,
                 level: float = 0.95, seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap confidence interval of ``stat(xs)``.

    Resample ``xs`` with replacement ``n_boot`` times and take the
    ``(1-level)/2`` and ``(1+level)/2`` percentiles of the statistic (Efron &
    Tibshirani, *An Introduction to the Bootstrap*, 1993, ch. 13).  Seeded, so
    the same samples give the same interval.
    """
    if not xs:
        raise ValueError("Expected at least one sample. Received: an empty list.")
    rng = random.Random(seed)
    n = len(xs)
    boots = sorted(stat([xs[rng.randrange(n)] for _ in range(n)]) for _ in range(n_boot))
    alpha = (1.0 - level) / 2.0
    return _percentile(boots, alpha), _percentile(boots, 1.0 - alpha)


def hierarchical_bootstrap_ci(groups: Sequence[Samples], stat: Callable[[Samples], float] = median,
                              n_boot: int = 2000, level: float = 0.95,
                              seed: int = 0) -> Tuple[float, float]:
    """Two-stage percentile bootstrap for samples grouped by process.

    Each replicate resamples the groups (processes) with replacement, then the
    samples within each chosen group, pools them and takes ``stat`` (Davison &
    Hinkley, *Bootstrap Methods and their Application*, 1997, sec. 3.8).  A
    difference between fresh processes (memory layout, which core, a
    neighbour's load) widens the interval, as it should: that is the
    run-to-run variation a reader cares about.  With one group this is
    :func:`bootstrap_ci`.
    """
    groups = [list(g) for g in groups if g]
    if not groups:
        raise ValueError("Expected at least one non-empty group of samples.")
    if len(groups) == 1:
        return bootstrap_ci(groups[0], stat, n_boot, level, seed)
    rng = random.Random(seed)
    k = len(groups)
    boots = []
    for _ in range(n_boot):
        pooled: List[float] = []
        for _ in range(k):
            g = groups[rng.randrange(k)]
            pooled.extend(g[rng.randrange(len(g))] for _ in range(len(g)))
        boots.append(stat(pooled))
    boots.sort()
    alpha = (1.0 - level) / 2.0
    return _percentile(boots, alpha), _percentile(boots, 1.0 - alpha)


def relative_half_width(estimate: float, lo: float, hi: float) -> float:
    """Half the CI's width relative to the estimate: 0.05 means +-5 %."""
    return (hi - lo) / 2.0 / estimate if estimate else math.inf


def needs_more(summary: Optional[Mapping[str, Any]], target_hw: float) -> bool:
    """True when a ratio of ``summary`` has a CI half-width above ``target_hw``.

    The timer gives such a case more fresh processes (see ``_timer.run``):
    the CI narrows roughly as 1/sqrt(processes), since processes are the
    outer stage of the bootstrap.
    """
    if not summary:
        return False
    return any((summary.get(f"ratio_{name}_hw") or 0.0) > target_hw for name in RATIOS)


def relative_difference(a: float, b: float) -> float:
    """``|a - b|`` relative to their mean: how far two runs' ratios agree."""
    return abs(a - b) / ((a + b) / 2.0)


def inner_loops(per_call_s: float, target_s: float, max_loops: int = 100_000) -> int:
    """Calls per sample so that one sample lasts about ``target_s``.

    A single call longer than the target gives one call per sample (the sample
    is then longer than the target; the timer says so in its record).
    """
    if per_call_s <= 0 or not math.isfinite(per_call_s):
        return max_loops
    return max(1, min(max_loops, int(round(target_s / per_call_s))))


def mode_order(repeat: int, modes: Sequence[str] = MODES) -> List[str]:
    """The order of the modes in repeat ``repeat``: rotated every repeat, so no mode
    is always first (after an idle gap) or always last."""
    if not modes:
        return []
    k = repeat % len(modes)
    return list(modes[k:]) + list(modes[:k])


def retraced(before: Optional[int], after: Optional[int]) -> bool:
    """True when the tf.function traced again while steady-state samples were taken.

    ``before``/``after`` are ``experimental_get_tracing_count()`` just before the
    first and just after the last steady-state sample; ``None`` when the count
    is not available (the mode failed, or an old TensorFlow).
    """
    if before is None or after is None:
        return False
    return after > before


def choose_device(devices: Sequence[Mapping[str, Any]], prefer_gpu: bool = True) -> str:
    """The device to time on: ``/GPU:0`` when a GPU is listed, else ``/CPU:0``.

    ``devices`` is ``tf.config.list_physical_devices()`` as dicts with ``type``
    (``"GPU"``, ``"CPU"``); the timer passes exactly that.
    """
    if prefer_gpu and any(d.get("type") == "GPU" for d in devices):
        return "/GPU:0"
    return "/CPU:0"


def per_call(samples: Sequence[Optional[float]], loops: int) -> List[Optional[float]]:
    """Sample durations (seconds for ``loops`` calls) -> seconds per call."""
    return [None if s is None else s / loops for s in samples]


def summarize(runs: Sequence[Mapping[str, Any]], n_boot: int = 2000, level: float = 0.95) -> Dict[str, Any]:
    """The reported figures of one case from its runs (one per fresh process).

    Each run maps mode -> ``{"status", "per_call_s": [...], "first_s",
    "tracing_before", "tracing_after"}``; per-call lists of one run are
    index-aligned by repeat.  Returns ratio estimates (``ratio_graph`` =
    eager/graph, ``ratio_xla`` = eager/XLA; above 1 means the compiled mode is
    faster) with their CI, absolute medians, first-call costs and the retrace
    flag.  A ratio whose modes did not both succeed in a run is ``None``.

    First-call costs: ``trace_s`` = graph's first call minus its steady-state
    median (tracing and graph optimisation); ``compile_s`` = XLA's first call
    minus its steady-state median minus ``trace_s`` (the XLA compile on top of
    tracing), floored at 0.  Both are medians over runs.
    """
    out: Dict[str, Any] = {"runs": len(runs), "level": level}
    for mode in MODES:
        pooled = [s for r in runs if (r.get(mode) or {}).get("status") == "ok"
                  for s in r[mode]["per_call_s"] if s is not None]
        out[f"{mode}_median_s"] = median(pooled) if pooled else None
        out[f"{mode}_n"] = len(pooled)
        firsts = [r[mode]["first_s"] for r in runs
                  if (r.get(mode) or {}).get("status") == "ok" and r[mode].get("first_s") is not None]
        out[f"{mode}_first_s"] = median(firsts) if firsts else None
    for name, (a, b) in RATIOS.items():
        groups = []
        for r in runs:
            ra, rb = r.get(a) or {}, r.get(b) or {}
            if ra.get("status") == "ok" and rb.get("status") == "ok":
                groups.append(paired_ratios(ra["per_call_s"], rb["per_call_s"]))
        groups = [g for g in groups if g]
        key = f"ratio_{name}"
        if not groups:
            out.update({key: None, f"{key}_lo": None, f"{key}_hi": None, f"{key}_hw": None,
                        f"{key}_runs": []})
            continue
        est = median([x for g in groups for x in g])
        lo, hi = hierarchical_bootstrap_ci(groups, n_boot=n_boot, level=level)
        out.update({key: est, f"{key}_lo": lo, f"{key}_hi": hi,
                    f"{key}_hw": relative_half_width(est, lo, hi),
                    f"{key}_runs": [median(g) for g in groups]})
    trace = _first_call_overheads(runs, "graph")
    xla = _first_call_overheads(runs, "xla")
    out["trace_s"] = median(trace) if trace else None
    if xla:
        t = out["trace_s"] or 0.0
        out["compile_s"] = max(0.0, median(xla) - t)
    else:
        out["compile_s"] = None
    out["retraced"] = any(retraced((r.get(m) or {}).get("tracing_before"),
                                   (r.get(m) or {}).get("tracing_after"))
                          for r in runs for m in ("graph", "xla"))
    return out


def _first_call_overheads(runs: Sequence[Mapping[str, Any]], mode: str) -> List[float]:
    out = []
    for r in runs:
        m = r.get(mode) or {}
        samples = [s for s in m.get("per_call_s") or [] if s is not None]
        if m.get("status") == "ok" and m.get("first_s") is not None and samples:
            out.append(m["first_s"] - median(samples))
    return out
