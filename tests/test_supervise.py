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
