"""Hermetic probing on real TensorFlow: no case changes another's outcome, in any order.

tests/resources/corpus_hermetic holds a case that leaves the mixed_float16
policy set and a victim that fails under it, cases that write to and empty
their working directory, one with its working directory in its message, one
with random draws in its message, and cases raising BaseExceptions.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import RESOURCES, engine, venv_python

CORPUS = RESOURCES / "corpus_hermetic"


def _probe(out, tmp, cwd, *extra):
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.run(
        engine(str(venv_python("tf2.15")), "probe", "--cases", str(CORPUS), "--label", "tf2.15",
         "--out", str(out), *extra), capture_output=True, text=True, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def runs(probed, tmp_path_factory):
    """Three probes of the corpus in tf2.15: in plan order on one worker (the
    leaker runs right before the victim), again on two workers, and shuffled."""
    base = tmp_path_factory.mktemp("hermetic")
    tmp = base / "tmp"
    user = base / "user"
    tmp.mkdir()
    user.mkdir()
    (user / "precious.txt").write_text("the user's file")
    docs = {
        "forward": _probe(base / "forward.json", tmp, user, "--jobs", "1"),
        "again": _probe(base / "again.json", tmp, user, "--jobs", "2"),
        "shuffled": _probe(base / "shuffled.json", tmp, user, "--jobs", "2", "--shuffle", "7"),
    }
    return {"docs": docs, "tmp": tmp, "user": user, "base": base}


def _by_key(doc):
    return {(o["case"], o["variant"], o["mode"]): o for o in doc["outcomes"]}


def _observed(doc):
    return {k: (o["status"], o.get("exc_type"), o.get("fingerprint"), tuple(o.get("leaked") or ()))
            for k, o in _by_key(doc).items()}


@pytest.mark.e2e
def test_a_leaked_dtype_policy_does_not_reach_the_next_case(runs):
    o = _by_key(runs["docs"]["forward"])
    assert o[("leak-mixed-precision", "broken", "script")]["leaked"] == ["dtype policy mixed_float16"]
    victim = o[("victim-float32-constant", "broken", "eager")]
    assert victim["status"] == "ok", victim
    assert not victim.get("leaked")


@pytest.mark.e2e
def test_every_leak_is_named(runs):
    o = _by_key(runs["docs"]["forward"])
    assert o[("leak-floatx-eager-cwd", "broken", "script")]["leaked"] == [
        "floatx float64", "run_functions_eagerly True", "cwd changed"]
    assert [k for k, v in o.items() if v.get("leaked")] == [
        ("leak-mixed-precision", "broken", "script"), ("leak-floatx-eager-cwd", "broken", "script")]


@pytest.mark.e2e
def test_forward_twice_and_shuffled_give_the_same_outcomes(runs):
    docs = runs["docs"]
    forward = _observed(docs["forward"])
    assert _observed(docs["again"]) == forward
    assert _observed(docs["shuffled"]) == forward
    # Results keep the plan's order whatever order the items ran in.
    keys = [(o["case"], o["variant"], o["mode"]) for o in docs["forward"]["outcomes"]]
    assert [(o["case"], o["variant"], o["mode"]) for o in docs["shuffled"]["outcomes"]] == keys
    assert docs["shuffled"]["runs"][0]["shuffle"] == 7


@pytest.mark.e2e
def test_random_draws_are_seeded_per_item(runs):
    draws = [d["outcomes"] for d in runs["docs"].values()]
    messages = {next(o["message"] for o in outs if o["case"] == "seeded-draws") for outs in draws}
    assert len(messages) == 1 and messages.pop().startswith("draws ")


@pytest.mark.e2e
def test_each_item_gets_a_fresh_empty_folder_and_the_users_cwd_is_untouched(runs):
    o = _by_key(runs["docs"]["forward"])
    # cwd-writer and cwd-reader raise unless their working directory is an
    # empty tfcanary-* folder in the temporary folder; the writer empties it.
    assert o[("cwd-writer", "broken", "script")]["status"] == "ok"
    assert o[("cwd-reader", "broken", "script")]["status"] == "ok"
    assert sorted(p.name for p in runs["user"].iterdir()) == ["precious.txt"]
    # The writer's scratch file in its temporary folder, AutoGraph's generated
    # modules: all below the probe's folder, removed with it.
    assert list(runs["tmp"].iterdir()) == []


@pytest.mark.e2e
def test_the_items_folder_never_reaches_results(runs):
    o = _by_key(runs["docs"]["forward"])[("cwd-in-message", "broken", "script")]
    assert o["exc_type"] == "FileNotFoundError"
    assert o["message"] == "[Errno 2] No such file or directory: '<cwd>/missing.txt'"
    text = json.dumps(runs["docs"])
    assert "tfcanary-item-" not in text and "tfcanary-probe-" not in text
    assert "/items-" not in text    # which worker ran an item must not show in its outcome
    assert str(runs["tmp"]) not in text


@pytest.mark.e2e
@pytest.mark.parametrize("exc", ["KeyboardInterrupt", "GeneratorExit", "SystemExit"])
def test_a_base_exception_raised_by_a_case_is_an_error_with_its_class(runs, exc):
    o = _by_key(runs["docs"]["forward"])[(f"raises-{exc.lower()}", "broken", "script")]
    assert (o["status"], o["exc_type"], o["message"]) == ("error", exc, "raised by the case")


@pytest.mark.e2e
def test_select_merges_into_a_full_results_file(runs):
    out = runs["base"] / "merged.json"
    out.write_text((runs["base"] / "forward.json").read_text())
    before = json.loads(out.read_text())
    after = _probe(out, runs["tmp"], runs["user"], "--select", "cwd-*")
    assert len(after["outcomes"]) == len(before["outcomes"])
    assert [r["id"] for r in after["runs"]] == [1, 2] and after["runs"][1]["select"] == ["cwd-*"]
    for old, new in zip(before["outcomes"], after["outcomes"]):
        assert (old["case"], old["variant"], old["mode"]) == (new["case"], new["variant"], new["mode"])
        if new["case"].startswith("cwd-"):
            assert new["run"] == 2
        else:
            assert new == old
    assert after["metadata"]["date"] >= before["metadata"]["date"]
    assert [c["id"] for c in after["cases"]] == [c["id"] for c in before["cases"]]


def _gone(pid, within):
    """True when ``pid`` is gone (or a zombie) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.e2e
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_dying_supervisor_takes_its_worker_with_it(probed, tmp_path, sig):
    pidfile = tmp_path / "worker.pid"
    out = tmp_path / "r.json"
    env = dict(os.environ, TFCANARY_TEST_PIDFILE=str(pidfile), TMPDIR=str(tmp_path))
    sup = subprocess.Popen(
        engine(str(venv_python("tf2.15")), "probe", "--cases", str(RESOURCES / "corpus_hang"),
         "--label", "tf2.15", "--out", str(out), "--jobs", "1", "--timeout", "600"),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (pidfile.exists() and pidfile.read_text()):
            assert sup.poll() is None and time.monotonic() < deadline, "the worker never reached the hang"
            time.sleep(0.2)
        worker = int(pidfile.read_text())
        assert worker != sup.pid
        sup.send_signal(getattr(signal, sig))
        _, err = sup.communicate(timeout=30)
        rc = sup.returncode
        assert _gone(worker, within=5), f"worker {worker} still runs after the supervisor got {sig}"
    finally:
        if sup.poll() is None:
            sup.kill()
        sup.communicate()
    assert rc == -signal.SIGKILL if sig == "SIGKILL" else rc == 128 + getattr(signal, sig)
    assert not out.exists()  # an interrupted probe writes nothing
    if sig != "SIGKILL":
        assert f"interrupted by {sig}; workers stopped" in err
    if sig == "SIGKILL":  # nothing could clean up: the next probe sweeps what is left
        from tfcanary._engine.supervise import sweep_stale

        assert [p.name for p in tmp_path.iterdir() if p.name.startswith("tfcanary-probe-")]
        sweep_stale(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("tfcanary-")] == []
