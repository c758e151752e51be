"""The timing statistics on constructed samples, the timer's bookkeeping, and
(marked e2e) the timer in a real TensorFlow environment.

No test here asserts a wall-clock figure: speed targets are shown by running
the timer (see README, "Speedup and asv dashboards"), not by unit tests.
"""

import json
import math
import random
import subprocess

import pytest

from conftest import RESOURCES, ROOT, engine, venv_python
from tfcanary._engine import timer as _timer
from tfcanary._engine import timing
from tfcanary.reports import speed


# ---------------------------------------------------------------- statistics

def test_paired_ratios_pair_by_repeat_and_drop_missing_samples():
    assert timing.paired_ratios([4.0, 6.0, None, 3.0], [1.0, 2.0, 1.0, 0.0]) == [4.0, 3.0]
    with pytest.raises(ValueError, match="equal length"):
        timing.paired_ratios([1.0], [1.0, 2.0])


def test_paired_median_ratio_cancels_load_that_shifts_both_modes():
    # Each repeat slows both modes by the same random factor (machine load,
    # up to 50 %); the paired ratio stays 4 while unpaired medians drift.
    rng = random.Random(1)
    load = [1 + 0.5 * rng.random() for _ in range(40)]
    eager = [4e-3 * f for f in load]
    graph = [1e-3 * f for f in load]
    assert timing.median(timing.paired_ratios(eager, graph)) == pytest.approx(4.0)


def test_bootstrap_ci_is_seeded_and_brackets_the_median():
    rng = random.Random(2)
    xs = [4.0 * math.exp(rng.gauss(0, 0.05)) for _ in range(60)]
    lo, hi = timing.bootstrap_ci(xs, seed=7)
    assert (lo, hi) == timing.bootstrap_ci(xs, seed=7)
    assert lo < timing.median(xs) < hi
    assert timing.bootstrap_ci([3.0] * 10) == (3.0, 3.0)


def test_bootstrap_ci_narrows_with_more_samples():
    rng = random.Random(3)
    draw = lambda n: [4.0 * math.exp(rng.gauss(0, 0.1)) for _ in range(n)]
    small, large = timing.bootstrap_ci(draw(15)), timing.bootstrap_ci(draw(240))
    assert (large[1] - large[0]) < (small[1] - small[0]) / 2


def test_bootstrap_ci_covers_the_true_median_about_95_percent_of_the_time():
    rng = random.Random(4)
    covered = 0
    trials = 60
    for t in range(trials):
        xs = [7.5 * math.exp(rng.gauss(0, 0.08)) for _ in range(45)]
        lo, hi = timing.bootstrap_ci(xs, n_boot=400, seed=t)
        covered += lo <= 7.5 <= hi
    assert covered / trials >= 0.85


def test_hierarchical_ci_with_one_group_is_the_plain_bootstrap():
    xs = [1.0, 1.1, 0.9, 1.05, 0.95]
    assert timing.hierarchical_bootstrap_ci([xs]) == timing.bootstrap_ci(xs)


def test_hierarchical_ci_widens_when_processes_disagree():
    rng = random.Random(5)
    groups = [[m * math.exp(rng.gauss(0, 0.02)) for _ in range(20)] for m in (4.0, 4.4, 4.8)]
    pooled = [x for g in groups for x in g]
    flat = timing.bootstrap_ci(pooled)
    two_stage = timing.hierarchical_bootstrap_ci(groups)
    assert (two_stage[1] - two_stage[0]) > 2 * (flat[1] - flat[0])


def test_relative_half_width_and_run_to_run_difference():
    assert timing.relative_half_width(4.0, 3.8, 4.2) == pytest.approx(0.05)
    assert timing.relative_difference(4.0, 4.2) == pytest.approx(0.2 / 4.1)


def test_needs_more_when_any_ratio_is_wider_than_the_target():
    assert timing.needs_more({"ratio_graph_hw": 0.02, "ratio_xla_hw": 0.07}, 0.05)
    assert not timing.needs_more({"ratio_graph_hw": 0.02, "ratio_xla_hw": 0.049}, 0.05)
    assert not timing.needs_more({"ratio_graph_hw": None, "ratio_xla_hw": None}, 0.05)   # failed modes
    assert not timing.needs_more(None, 0.05)


def test_inner_loops_aim_at_the_target_sample_length():
    assert timing.inner_loops(1e-3, 8e-3) == 8
    assert timing.inner_loops(50e-3, 8e-3) == 1          # one call is longer than a sample
    assert timing.inner_loops(1e-9, 8e-3, max_loops=1000) == 1000
    assert timing.inner_loops(0.0, 8e-3, max_loops=5) == 5


def test_mode_order_rotates_so_each_mode_takes_each_position():
    orders = [timing.mode_order(r) for r in range(3)]
    assert orders[0] == ["eager", "graph", "xla"]
    for pos in range(3):
        assert sorted(o[pos] for o in orders) == ["eager", "graph", "xla"]
    assert timing.mode_order(1, ["eager", "graph"]) == ["graph", "eager"]
    assert timing.mode_order(2, []) == []          # every mode failed: nothing to sample


def test_retrace_is_a_tracing_count_that_grew_during_sampling():
    assert timing.retraced(1, 2)
    assert not timing.retraced(1, 1)
    assert not timing.retraced(None, 3)   # count unavailable: no claim either way


def test_choose_device_prefers_gpu_mocked_device_list():
    # No GPU exists on these machines: the device lists are constructed, shaped
    # like tfcanary._worker.collect_metadata's "devices".
    cpu = {"name": "/physical_device:CPU:0", "type": "CPU"}
    gpu = {"name": "/physical_device:GPU:0", "type": "GPU", "description": "NVIDIA H100"}
    assert timing.choose_device([cpu, gpu]) == "/GPU:0"
    assert timing.choose_device([cpu]) == "/CPU:0"
    assert timing.choose_device([cpu, gpu], prefer_gpu=False) == "/CPU:0"
    assert timing.choose_device([]) == "/CPU:0"


def test_device_name_names_the_gpu_when_timing_on_it():
    meta = {"cpu": "Xeon", "devices": [{"name": "/physical_device:GPU:0", "type": "GPU",
                                        "description": "NVIDIA H100 80GB HBM3"}]}
    assert _timer._device_name(meta, "/GPU:0") == "/GPU:0 NVIDIA H100 80GB HBM3"
    assert _timer._device_name(meta, "/CPU:0") == "/CPU:0 Xeon"


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="Linux only")
def test_pin_cpu_binds_the_process_to_one_allowed_cpu():
    code = ("import os, sys; sys.path.insert(0, 'src'); from tfcanary._engine import timer as _timer; "
            "allowed = sorted(os.sched_getaffinity(0)); print(_timer._pin_cpu(-1) == [allowed[-1]], "
            "_timer._pin_cpu(None) == [allowed[-1]])")
    out = subprocess.run([__import__("sys").executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.split() == ["True", "True"], out.stderr


# ---------------------------------------------------------------- summaries

def _mode(per_call, first=None, before=1, after=1, status="ok"):
    return {"status": status, "per_call_s": per_call, "first_s": first,
            "tracing_before": before, "tracing_after": after}


def _run(scale=1.0, xla_status="ok", after=1):
    rng = random.Random(int(scale * 100))
    load = [1 + 0.3 * rng.random() for _ in range(20)]
    return {
        "eager": _mode([8e-3 * f * scale for f in load], first=0.5, before=None, after=None),
        "graph": _mode([2e-3 * f for f in load], first=0.05 + 2e-3, after=after),
        "xla": (_mode([1e-3 * f for f in load], first=0.35 + 1e-3) if xla_status == "ok"
                else {"status": "error", "exc_type": "InvalidArgumentError", "message": "no XLA kernel"}),
    }


def test_summarize_pools_processes_and_reports_each_run():
    s = timing.summarize([_run(), _run(), _run(1.1)], n_boot=300)
    assert s["runs"] == 3
    assert s["ratio_graph"] == pytest.approx(4.0, rel=0.1)
    assert s["ratio_xla"] == pytest.approx(8.0, rel=0.1)
    assert s["ratio_graph_lo"] <= s["ratio_graph"] <= s["ratio_graph_hi"]
    assert len(s["ratio_graph_runs"]) == 3
    assert s["graph_median_s"] < s["eager_median_s"]
    assert s["trace_s"] == pytest.approx(0.05, abs=0.005)
    assert s["compile_s"] == pytest.approx(0.30, abs=0.01)     # XLA first call minus steady state minus trace
    assert s["retraced"] is False


def test_summarize_gives_no_ratio_for_a_failed_mode():
    s = timing.summarize([_run(xla_status="error")], n_boot=100)
    assert s["ratio_xla"] is None and s["ratio_xla_lo"] is None and s["compile_s"] is None
    assert s["ratio_graph"] is not None


def test_summarize_flags_a_retrace_in_any_run():
    assert timing.summarize([_run(), _run(after=2)], n_boot=100)["retraced"] is True


def test_combine_keeps_raw_runs_and_records_crashes_without_ratios():
    ok = {"case": "c", "status": "ok", "modes": _run()}
    crash = {"case": "c", "variant": "fixed", "mode": "speed", "status": "crash",
             "reason": "the worker died: SIGSEGV (-11)"}
    entry = _timer.combine([ok, crash, ok], n_boot=100)
    assert entry["status"] == "ok" and entry["statuses"] == ["ok", "crash", "ok"]
    assert entry["summary"]["runs"] == 2 and len(entry["runs"]) == 3
    assert "SIGSEGV" in entry["reasons"][0]
    dead = _timer.combine([crash, crash])
    assert dead["status"] == "crash" and dead["summary"] is None


def test_combine_marks_a_case_with_a_failed_mode_partial_and_lists_the_error():
    entry = _timer.combine([{"case": "c", "status": "partial", "modes": _run(xla_status="error")}],
                           n_boot=100)
    assert entry["status"] == "partial"
    assert entry["errors"] == ["xla: InvalidArgumentError: no XLA kernel"]


# ---------------------------------------------------------------- results files

def _doc(**kw):
    entry = _timer.combine([{"case": "c", "status": "ok", "modes": _run()}], n_boot=100)
    entry.update(family="f", tags=[])
    doc = {"schema": 1, "kind": "speed", "label": "tf2.15", "status": "ok",
           "metadata": {"tensorflow": "2.15.1", "keras": "2.15.0", "device_name": "/CPU:0 Xeon",
                        "threads": {"intra_op": 1, "inter_op": 1}},
           "settings": {"processes": 1, "repeats": 20}, "timing": {"total_s": 1.0},
           "results": [entry]}
    doc.update(kw)
    return doc


def test_speed_rows_have_the_named_columns(tmp_path):
    (tmp_path / "tf2.15.json").write_text(json.dumps(_doc()))
    rows = list(speed.rows(speed.read(tmp_path / "tf2.15.json")))
    assert set(speed.COLUMNS) == set(rows[0])
    assert rows[0]["env"] == "tf2.15" and rows[0]["device"] == "/CPU:0 Xeon"
    assert "±" in speed.render([tmp_path])


def test_load_speed_gives_a_dataframe(tmp_path):
    pytest.importorskip("pandas")
    (tmp_path / "tf2.15.json").write_text(json.dumps(_doc()))
    (tmp_path / "tf2.21.json").write_text(json.dumps(_doc(label="tf2.21")))
    df = speed.load_speed([tmp_path])
    assert list(df.columns) == speed.COLUMNS
    assert list(df["env"]) == ["tf2.15", "tf2.21"]


def test_reader_and_writer_agree_on_the_schema():
    assert speed.SCHEMA_VERSION == _timer.SCHEMA_VERSION


def test_a_newer_speed_schema_is_refused(tmp_path):
    from tfcanary.results import ResultsError

    (tmp_path / "x.json").write_text(json.dumps(_doc(schema=99)))
    with pytest.raises(ResultsError, match="schema 99"):
        speed.read(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"schema": 1, "label": "tf2.15"}))
    with pytest.raises(ResultsError, match="kind"):
        speed.read(tmp_path / "y.json")


# ---------------------------------------------------------------- real TensorFlow

@pytest.mark.e2e
def test_timer_in_a_real_environment_records_ratios_and_mode_errors(probed, tmp_path):
    python = venv_python("tf2.15")   # built by the `probed` fixture
    out = tmp_path / "tf2.15.json"
    proc = subprocess.run(
        engine(python, "time", "--cases", str(ROOT / "workloads"),
         "--cases", str(RESOURCES / "corpus_speed"), "--select", "workload-dense-stack",
         "--select", "speed-*", "--label", "tf2.15", "--out", str(out),
         "--processes", "2", "--repeats", "5", "--max-processes", "2"),
        capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = speed.read(out)
    by_case = {e["case"]: e for e in doc["results"]}
    dense = by_case["workload-dense-stack"]
    assert dense["status"] == "ok" and dense["summary"]["runs"] == 2
    assert dense["summary"]["ratio_graph"] > 1          # tf.function beats eager on a Dense stack
    assert not dense["summary"]["retraced"]
    assert len(dense["runs"][0]["graph"]["samples_s"]) == 5
    assert doc["metadata"]["threads"] == {"intra_op": 1, "inter_op": 1}
    assert doc["metadata"]["timing_device"] == "/CPU:0"
    xla_fails = by_case["speed-xla-unsupported"]
    assert xla_fails["status"] == "partial"
    assert xla_fails["summary"]["ratio_xla"] is None and xla_fails["summary"]["ratio_graph"] is not None
    raises = by_case["speed-eager-raises"]
    assert raises["status"] == "error" and raises["summary"] is None
    assert raises["errors"][0].startswith("eager: ValueError") and "always" in raises["errors"][0]


@pytest.mark.e2e
def test_cases_with_wide_intervals_get_more_processes_and_narrow_ones_do_not(probed, tmp_path):
    python = venv_python("tf2.15")

    def timed(target_hw):
        out = tmp_path / f"hw{target_hw}.json"
        proc = subprocess.run(
            engine(python, "time", "--cases", str(ROOT / "workloads"),
             "--select", "workload-dense-stack", "--label", "tf2.15", "--out", str(out),
             "--processes", "1", "--repeats", "4", "--max-processes", "3", "--target-hw", str(target_hw)),
            capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return speed.read(out)

    unreachable = timed(0.0001)   # no CI is that narrow: every extra round allowed is taken
    assert unreachable["results"][0]["summary"]["runs"] == 3
    assert len(unreachable["timing"]["process_s"]) == 3
    easy = timed(10.0)            # +-1000 %: the first process is enough
    assert easy["results"][0]["summary"]["runs"] == 1
