"""The nightly's jobs of substance: one environment, the reports, the check.

    tfcanary nightly env nightly --sha SHA     # probe, time, asv-benchmark one environment; stage it
    tfcanary nightly reports                   # summary, version matrix, upgrade report tf2.21 -> nightly
    tfcanary nightly check                     # the check; on transitions, bisect the high-risk ones

Each is a plain function that the CLI calls and the tests call directly; the
noxfile's ``nightly-*`` sessions only install what they need and call the CLI,
and the reusable workflow for a repository of one's own layers calls
:func:`reports` and :func:`check` with its cases, ``--with`` specs and
snapshots.  The policy lives here: which pair the night compares and bisects
(:data:`PAIR`, or another), that only high-risk transitions are bisected (to
keep the night bounded), that tonight's probe replaces an environment's
earlier results, and what goes to the GitHub step summary (the upgrade
report, the check, the bisection).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from .. import matrix
from ..envs import asv as asvconf
from ..envs import runner
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


def reports(results_dir: Path, reports_dir: Path, pair: Sequence[str] = PAIR,
            step_summary: Optional[str] = None, echo: Echo = print) -> int:
    """The night's reports: the summary (also ``summary.txt``), the speed table, the version
    matrix, and the upgrade report of ``pair`` when both environments have results (its
    Markdown appended to ``step_summary``, GitHub's ``$GITHUB_STEP_SUMMARY``)."""
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
    if all((res / f"{label}.json").exists() for label in pair):
        for path in upgrade.write([res], pair[0], pair[1], out, speedups=speedups, first_changed=bisected):
            echo(f"wrote {path}")
            if step_summary and path.suffix == ".md":
                _append(step_summary, path.read_text(encoding="utf-8"), path)
    else:
        echo(f"no upgrade report {pair[0]} -> {pair[1]}: results of "
             f"{', '.join(l for l in pair if not (res / f'{l}.json').exists())} missing")
    # The matrix last: it links the upgrade reports it finds beside it.
    echo(f"wrote {version_matrix.write([res], out, speedups=speedups, first_changed=bisected)}")
    return 0


SUMMARY_LIMIT = 1024 * 1024 - 4096      # GitHub refuses a step summary over 1 MiB


def _append(step_summary: str, text: str, source: Path) -> None:
    """Append ``text`` to the step summary, or a line naming ``source`` when it is too big."""
    if len(text.encode("utf-8")) > SUMMARY_LIMIT:
        text = f"{source.name} is over GitHub's 1 MiB step-summary limit: see the run's reports artifact.\n"
    with open(step_summary, "a", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n\n")


def check(results_dir: Path, snapshots: Optional[Path], reports_dir: Path, cases: Sequence[str],
          pair: Sequence[str] = PAIR, with_specs: Sequence[str] = (), bisect: bool = True,
          bisect_args: Sequence[str] = (), step_summary: Optional[str] = None, echo: Echo = print) -> int:
    """The check against ``snapshots`` (default: the folder the results record; JUnit and
    Markdown in ``reports_dir``); on transitions the bisection of ``pair``'s high-risk changes
    (:func:`bisect_pair`; tolerated when it fails: the check still reports), its Markdown
    beside the check's; both appended to ``step_summary`` (GitHub's ``$GITHUB_STEP_SUMMARY``).
    Returns 1 on transitions, else 0."""
    from ..reports import check as _check

    res, out = Path(results_dir), Path(reports_dir)
    rc = _check.run([res], snapshots, junit=out / "check.xml", markdown_out=out / "check.md", echo=echo)
    outcome = alert.read_check(out)
    if outcome.transitions and bisect and all((res / f"{label}.json").exists() for label in pair):
        md = bisect_pair(res, pair, cases, with_specs, bisect_args, echo)
        if md is not None:
            (out / "bisect").mkdir(parents=True, exist_ok=True)   # the alert reads reports/ only
            shutil.copy2(md, out / "bisect" / md.name)
        outcome = alert.read_check(out)
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(outcome.markdown + ("\n\n## Bisection\n\n" + outcome.bisect if outcome.bisect else ""))
    if outcome.transitions:
        echo(f"{len(outcome.transitions)} transitions against {snapshots or 'the snapshots'} "
             f"({out / 'check.md'})")
    return 1 if rc or outcome.transitions else 0


def bisect_pair(results_dir: Path, pair: Sequence[str], cases: Sequence[str], with_specs: Sequence[str] = (),
                extra: Sequence[str] = (), echo: Echo = print) -> Optional[Path]:
    """``tfcanary bisect A B --high-risk`` over ``results_dir`` (its ``bisect/`` gets the files),
    run as the command a user runs, so that every option of ``tfcanary bisect`` (``extra``:
    ``--pytest PATH``, ``--timeout S``, ...) passes through unchanged.  Returns its Markdown,
    or None when it failed (said with ``echo``: its error line)."""
    from ..bisect.run import slug

    res = Path(results_dir)
    cmd = [sys.executable, "-m", "tfcanary", "bisect", pair[0], pair[1], "--results", str(res), "--high-risk",
           *[a for c in cases for a in ("--cases", str(c))],
           *[a for spec in with_specs for a in ("--with", spec)], *extra]
    echo("$ " + shlex.join(["tfcanary", *cmd[3:]]))
    error = ""
    with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            echo(line)
            if line.startswith("tfcanary") and ": error: " in line:   # ours, or argparse's
                error = line.split(": error: ", 1)[1]
    md = res / "bisect" / f"{slug(pair[0])}--{slug(pair[1])}.md"
    if proc.returncode != 0 or not md.is_file():
        echo(f"bisect {pair[0]} -> {pair[1]} failed: {error or f'exit {proc.returncode}'}")
        return None
    return md

