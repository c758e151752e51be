"""The nightly's jobs of substance: one environment, the reports, the check.

    tfcanary nightly env nightly --sha SHA     # probe, time, asv-benchmark one environment; stage it
    tfcanary nightly reports                   # summary, version matrix, upgrade report tf2.21 -> nightly
    tfcanary nightly check                     # the check; on transitions, bisect the high-risk ones

Each is a plain function that the CLI calls and the tests call directly; the
noxfile's ``nightly-*`` sessions only install what they need and call the CLI.
The policy lives here: which pair the night compares and bisects
(:data:`PAIR`), that only high-risk transitions are bisected (to keep the
night bounded), that tonight's probe replaces an environment's earlier
results, and what goes to the GitHub step summary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .. import matrix
from ..envs import asv as asvconf
from ..envs import runner
from ..errors import UserError
from . import alert, steps

PAIR = ("tf2.21", "nightly")   # tonight's transitions against the newest stable release
Echo = Callable[[str], None]


def env(root: Path, label: str, sha: str, out: Path, venv: Optional[Path] = None,
        results_dir: Optional[Path] = None, select: Sequence[str] = (), timer_args: Sequence[str] = (),
        machine: Optional[str] = None, bench: Optional[str] = None, echo: Echo = print) -> int:
    """Probe and time ``label`` (``tfcanary run``'s pipeline), asv-benchmark ``sha`` in it, stage
    its files into ``out``.  Each step runs even when an earlier one failed (an install failure
    is recorded); returns 1 when any failed."""
    root = Path(root).resolve()
    entry = matrix.get(label)     # a clear error for an unknown label
    res = Path(results_dir) if results_dir else root / "results"
    # Tonight's probe is a new observation with tonight's packages: a --select run
    # would refuse to merge into an earlier night's results of other versions.
    (res / f"{label}.json").unlink(missing_ok=True)
    pins = root / steps.PINS_FILE
    opts = runner.RunOptions(cases=[str(root / "cases")], labels=[label], select=list(select),
                             results_dir=str(res), reports_dir=None, venv=str(venv) if venv else None,
                             pins=str(pins) if pins.exists() else None, snapshots=str(root / "snapshots"),
                             speed=True, workloads=[str(root / "workloads")], timer_args=list(timer_args),
                             cwd=str(root))
    failed = runner.run(opts, echo=echo) != 0
    if (root / "asv.conf.json").exists():
        asv = [sys.executable, "-m", "asv"]
        machine = machine or asv_machine()
        run = [*asv, "run", "--machine", machine, "--show-stderr", "-E", asvconf.env_name(entry),
               f"{sha}^!", *(["--bench", bench] if bench else [])]
        env_vars = {**os.environ, "TFCANARY_SELECT": ",".join(select),
                    "TFCANARY_TIMER_ARGS": " ".join(timer_args)}
        for cmd in ([*asv, "machine", "--yes", "--machine", machine], run):
            if subprocess.run(cmd, cwd=root, env=env_vars).returncode != 0:
                echo(f"asv failed in {label}: {' '.join(cmd[2:4])}")
                failed = True
                break
    for path in steps.stage(root, label, sha, out, res, machine):
        echo(f"staged {path}")
    if failed:
        echo(f"{label}: a step failed (what it recorded is staged in {out})")
    return 1 if failed else 0


def asv_machine() -> str:
    """The asv machine name: ``$TFCANARY_ASV_MACHINE`` (one name for every night), else the host's."""
    import platform

    return os.environ.get("TFCANARY_ASV_MACHINE") or platform.node()


def reports(results_dir: Path, reports_dir: Path, pair: Sequence[str] = PAIR, echo: Echo = print) -> int:
    """The night's reports: the summary (also ``summary.txt``), the speed table, the version
    matrix, and the upgrade report of ``pair`` when both environments have results."""
    from ..bisect.run import first_changed
    from ..reports import speed, summary, upgrade, version_matrix
    from ..results import write_text_atomic

    res, out = Path(results_dir), Path(reports_dir)
    text = summary.render([res])
    echo(text.rstrip("\n"))
    write_text_atomic(res / "summary.txt", text)
    speed_dir = res / "speed"
    speedups = None
    if any(speed_dir.glob("*.json")):
        speedups = speed.read_speedups(speed.write_csv([speed_dir], speed_dir / "speedups.csv"))
    bisected = first_changed([res])
    echo(f"wrote {version_matrix.write([res], out, speedups=speedups, first_changed=bisected)}")
    if all((res / f"{label}.json").exists() for label in pair):
        for path in upgrade.write([res], pair[0], pair[1], out, speedups=speedups, first_changed=bisected):
            echo(f"wrote {path}")
    return 0


def check(results_dir: Path, snapshots: Path, reports_dir: Path, cases: Sequence[str],
          pair: Sequence[str] = PAIR, with_specs: Sequence[str] = (), bisect: bool = True,
          step_summary: Optional[str] = None, echo: Echo = print) -> int:
    """The check against ``snapshots`` (JUnit and Markdown in ``reports_dir``); on transitions
    the bisection of ``pair``'s high-risk changes (tolerated when it fails: the check still
    reports), its Markdown beside the check's; both appended to ``step_summary`` (GitHub's
    ``$GITHUB_STEP_SUMMARY``).  Returns 1 on transitions, else 0."""
    from ..reports import check as _check

    res, out = Path(results_dir), Path(reports_dir)
    rc = _check.run([res], snapshots, junit=out / "check.xml", markdown_out=out / "check.md", echo=echo)
    outcome = alert.read_check(out)
    if outcome.transitions and bisect and all((res / f"{label}.json").exists() for label in pair):
        from ..bisect import run as _bisect

        try:
            _, md = _bisect.run(pair[0], pair[1], [str(res)], list(cases), high_risk=True,
                                with_specs=with_specs, log=echo)
            (out / "bisect").mkdir(parents=True, exist_ok=True)   # the alert reads reports/ only
            shutil.copy2(md, out / "bisect" / md.name)
        except UserError as exc:
            echo(f"bisect {pair[0]} -> {pair[1]} failed: {exc}")
        outcome = alert.read_check(out)
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(outcome.markdown + ("\n\n## Bisection\n\n" + outcome.bisect if outcome.bisect else ""))
    if outcome.transitions:
        echo(f"{len(outcome.transitions)} transitions against {snapshots} ({out / 'check.md'})")
    return 1 if rc or outcome.transitions else 0

