"""The supervisor's plumbing that needs no TensorFlow: item order and stale folders."""

import os
import subprocess
import sys

from tfcanary._engine import supervise as _supervisor


def test_shuffled_order_is_a_seeded_permutation():
    forward = _supervisor.order_items(50, None)
    assert forward == list(range(50))
    a = _supervisor.order_items(50, 7)
    assert a == _supervisor.order_items(50, 7) and sorted(a) == forward and a != forward
    assert a != _supervisor.order_items(50, 8)


def test_sweep_removes_only_folders_of_dead_supervisors(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    gone = tmp_path / f"tfcanary-probe-{dead}-abc"
    (gone / "items-0").mkdir(parents=True)
    alive = tmp_path / f"tfcanary-probe-{os.getpid()}-def"
    alive.mkdir()
    other = tmp_path / "tfcanary-probe-xyz"  # not ours to judge
    other.mkdir()
    _supervisor.sweep_stale(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name])


# --- the supervisor with a stub worker: the real protocol, no TensorFlow --------------------

import json  # noqa: E402
import signal  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from conftest import RESOURCES  # noqa: E402
from tfcanary._engine.supervise import Supervisor  # noqa: E402

STUB = RESOURCES / "stub_worker.py"


def _sup(tmp_path, names, settings=None, timeout=20.0, startup_timeout=20.0, **kw):
    items = [[n, "broken", "script"] for n in names]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"items": items, "settings": settings or {}}))
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return Supervisor([sys.executable, str(STUB), "--plan", str(plan)], items, work, timeout,
                      startup_timeout, poll=0.02, **kw)


def _alive(pid):
    """Whether ``pid`` runs (a killed process whose parent died may linger as a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        os.kill(pid, 0)
        return True


def _run(sup):
    try:
        sup.run()
    finally:
        sup.close()
    return [sup.outcomes[i] for i in range(sup.n)]


@pytest.mark.parametrize("killer, signal_name", [("segv", "SIGSEGV"), ("abort", "SIGABRT"),
                                                  ("exit3", "exit code 3")])
def test_an_item_that_kills_its_worker_is_a_crash_and_the_rest_still_run(tmp_path, killer, signal_name):
    sup = _sup(tmp_path, ["ok-1", killer, "ok-2", "ok-3"])
    got = _run(sup)
    assert [o["status"] for o in got] == ["ok", "crash", "ok", "ok"]
    assert got[1]["reason"].startswith(f"the worker died: {signal_name}")
    assert got[1]["case"] == killer and got[1]["duration_s"] is None
    if killer == "abort":   # the fatal lines of the worker's log say why
        assert "Fatal Python error: Aborted on purpose" in got[1]["reason"]
    assert sup.restarts == 1
    pids = {o["reason"].split()[1] for o in got if o["status"] == "ok"}
    assert len(pids) == 2                         # a fresh worker took over after the crash
    assert not list((tmp_path / "work").glob("items-*"))   # every worker's folder is gone


def test_a_hang_is_a_timeout_and_its_whole_process_group_is_killed(tmp_path):
    pidfile = tmp_path / "child.pid"
    sup = _sup(tmp_path, ["ok-1", "hang-child", "ok-2"], {"pidfile": str(pidfile)}, timeout=1.5)
    t0 = time.monotonic()
    got = _run(sup)
    assert [o["status"] for o in got] == ["ok", "timeout", "ok"]
    assert got[1]["reason"] == "no result after 1.5 s; the worker was killed"
    assert time.monotonic() - t0 < 30
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not _alive(child)                     # the case's own child died with the worker


def test_two_workers_shuffled_still_give_one_outcome_per_item_in_plan_order(tmp_path):
    names = [f"ok-{i}" for i in range(12)] + ["segv"]
    sup = _sup(tmp_path, names, {"item_s": 0.2}, jobs=2, order=_supervisor_order(len(names)))
    got = _run(sup)
    assert [o["case"] for o in got] == names
    assert [o["status"] for o in got] == ["ok"] * 12 + ["crash"]
    assert len({o["reason"].split()[1] for o in got[:12]}) >= 2   # both workers ran items


def _supervisor_order(n):
    return _supervisor.order_items(n, 3)


def test_a_worker_that_cannot_start_twice_fails_every_item_with_its_log(tmp_path):
    sup = _sup(tmp_path, ["ok-1", "ok-2"], {"counter": str(tmp_path / "n"), "fail_starts": 5})
    got = _run(sup)
    assert {o["status"] for o in got} == {"crash"}
    assert all(o["reason"].startswith("worker could not start: exit code 7") for o in got)
    assert "stub: failing to start on purpose" in got[0]["reason"]
    assert (tmp_path / "n").read_text() == "2"     # tried twice, then gave up


def test_a_worker_that_fails_to_start_once_is_started_again(tmp_path):
    sup = _sup(tmp_path, ["ok-1", "ok-2"], {"counter": str(tmp_path / "n"), "fail_starts": 1})
    assert [o["status"] for o in _run(sup)] == ["ok", "ok"]


def test_a_worker_that_does_not_get_ready_in_time_fails_the_rest(tmp_path):
    sup = _sup(tmp_path, ["ok-1"], {"slow_start": 60}, startup_timeout=1.0)
    [got] = _run(sup)
    assert got["status"] == "crash" and got["reason"].startswith("worker did not start within 1 s")


def test_a_worker_that_ends_before_beginning_its_next_item_costs_no_item(tmp_path):
    sup = _sup(tmp_path, ["quit-after", "ok-1", "ok-2"])
    got = _run(sup)
    assert [o["status"] for o in got] == ["ok", "ok", "ok"]
    assert sup.restarts == 0 and sup.spawned == 2


def test_only_the_first_worker_reports_metadata_and_notify_sees_every_item(tmp_path):
    seen = []
    sup = _sup(tmp_path, ["ok-1", "segv", "ok-2"], notify=lambda ev, i, o: seen.append((ev, i)))
    got = _run(sup)
    assert sup.meta["metadata"]["stub"] is True
    first_pid = sup.meta["metadata"]["pid"]
    assert got[0]["reason"].split()[1] == str(first_pid)
    assert seen == [("start", 0), ("outcome", 0), ("start", 1), ("outcome", 1), ("start", 2), ("outcome", 2)]
    assert got[0]["reason"].endswith("next 1") and got[2]["reason"].endswith("next None")


def test_a_stopped_supervisor_kills_its_workers_and_exits_with_the_signal(tmp_path):
    pidfile = tmp_path / "child.pid"
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"items": [["hang-child", "broken", "script"]],
                                "settings": {"pidfile": str(pidfile)}}))
    driver = textwrap.dedent(f"""
        import signal, sys
        from pathlib import Path
        from tfcanary._engine.supervise import Interrupted, Supervisor, interrupt
        signal.signal(signal.SIGTERM, interrupt)
        sup = Supervisor([sys.executable, {str(STUB)!r}, "--plan", {str(plan)!r}],
                         [["hang-child", "broken", "script"]], Path({str(tmp_path)!r}), 600, 60)
        try:
            sup.run()
        except Interrupted as exc:
            sup.close()
            sys.exit(128 + exc.signum)
    """)
    proc = subprocess.Popen([sys.executable, "-c", driver])
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    time.sleep(0.2)
    assert not _alive(child)
    assert not list(tmp_path.glob("items-*"))
