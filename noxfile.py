"""tfcanary's sessions: one per environment of the matrix, plus reports, speed, asv, tests, nightly.

    nox                      # default matrix: probe each environment, then summary and report
    nox -t full              # every TF minor 2.12-2.21, as released and latest, and nightly
    nox -s tf2.15 tf2.21     # chosen environments
    nox -s tests             # the test suite
    nox -s speed -- tf2.15   # eager vs tf.function vs XLA timing (results/speed/)
    nox -s asv -- tf2.15     # asv benchmarks in chosen environments, HTML in .asv/html
    nox -l                   # list every session

Options after ``--`` reach every selected session (tfcanary.envs.sessions parses them):
    gpu                      install the CUDA build (tensorflow[and-cuda]) instead of tensorflow-cpu
    --results-dir DIR        where results files go (default: results/)
    --cases DIR              probe this case folder instead of cases/ (repeatable; relative to
                             where nox was started, or absolute)
    --select PATTERN         only cases whose id, family or tag matches (repeatable)
    --timeout SECONDS        per (case, variant, mode) before it is recorded as a timeout
    --shuffle SEED, --jobs N passed to the probe as they are
    --pytest PATH            run this test suite (files, folders, node ids; repeatable) instead of
                             cases/, one outcome per test; --pytest-args '...', --no-reset as for
                             `tfcanary run`
Any other option is an error that names it.

Thin on purpose: each session parses its options with tfcanary.envs.sessions and runs a
`tfcanary` command; what a session decides lives in the package, with tests that need no nox.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from tfcanary import matrix  # noqa: E402
from tfcanary.envs import asv as asvconf  # noqa: E402
from tfcanary.envs import sessions  # noqa: E402
from tfcanary.errors import UsageError  # noqa: E402

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [e.label for e in matrix.default()] + ["summary", "report"]


def _tfcanary(session: nox.Session, *args: str, **kwargs) -> None:
    """This checkout's CLI with nox's interpreter: environments and nightly steps need no extras."""
    env = {"PYTHONPATH": str(ROOT / "src"), **kwargs.pop("env", {})}
    session.run(sys.executable, "-m", "tfcanary", *args, env=env, external=True, **kwargs)


def _parsed(session: nox.Session, parse=sessions.parse):
    try:
        return parse(session.posargs, getattr(session, "invoked_from", None), ROOT)
    except UsageError as exc:
        session.error(str(exc))


def _make_env_session(entry: matrix.Entry) -> None:
    tags = ["full"] + (["default"] if entry.default else []) + [entry.flavour]

    def session_fn(session: nox.Session) -> None:
        opts = _parsed(session, sessions.env_options)
        # From where nox was started: a suite's rootdir and node ids are the user's.
        with session.chdir(opts.invoked_from):
            _tfcanary(session, *sessions.run_args(entry, opts, session.virtualenv.location, ROOT))

    session_fn.__doc__ = f"Probe the corpus in {entry.label}: {entry.note}."
    nox.session(python=entry.python, name=entry.label, tags=tags,
                download_python="auto", default=entry.default)(session_fn)


for _entry in matrix.full():
    _make_env_session(_entry)


def _report_session(session: nox.Session, command: str) -> None:
    opts = _parsed(session)
    try:
        args = sessions.report_args(command, opts, ROOT)
    except UsageError as exc:
        session.error(str(exc))
    session.install("-e", str(ROOT))
    session.run("python", "-m", "tfcanary", *args)


@nox.session(tags=["full", "default"], venv_backend="uv")
def summary(session: nox.Session) -> None:
    """Count outcomes per environment (ok / error / crash / timeout / skip); write results/summary.txt."""
    opts = _parsed(session)
    session.install("-e", str(ROOT))
    session.run("python", "-m", "tfcanary", "summary", str(opts.results_dir), "--expect-default",
                "--write", str(opts.results_dir / "summary.txt"))


@nox.session(venv_backend="uv", default=False)
def report(session: nox.Session) -> None:
    """Write the version matrix, reports/index.html, from results/ (options: --results-dir, --speedups FILE)."""
    _report_session(session, "report")


@nox.session(venv_backend="uv", default=False)
def upgrade(session: nox.Session) -> None:
    """Write the upgrade-risk report A -> B: nox -s upgrade -- tf2.15 tf2.21 [--results-dir DIR]."""
    _report_session(session, "upgrade")


@nox.session(venv_backend="uv", default=False)
def check(session: nox.Session) -> None:
    """Compare results/ with the corpus's snapshots (exit 1 on transitions); -- --update rewrites them."""
    _report_session(session, "check")


@nox.session(venv_backend="none", default=False)
def speed(session: nox.Session) -> None:
    """Time eager vs tf.function vs XLA; write results/speed/<env>.json and speedups.csv.

    nox -s speed -- tf2.15 tf2.21 [--processes 3 --repeats 20 --target-ms 8 --threads 1 --pin-cpu -1
                                   --select ID --results-dir DIR]
    (no labels: the default matrix).  Uses (or builds) nox's environments, .nox/<label>.
    """
    try:
        commands = sessions.speed_args(session.posargs, ROOT)
    except UsageError as exc:
        session.error(str(exc))
    for args in commands:
        _tfcanary(session, *args)
    speed_dir = Path(commands[0][commands[0].index("--results") + 1]) / "speed"
    _tfcanary(session, "speed", str(speed_dir), "--csv", str(speed_dir / "speedups.csv"))


@nox.session(venv_backend="uv", default=False)
def asv(session: nox.Session) -> None:
    """Run the asv benchmarks in chosen environments and publish the HTML to .asv/html.

    nox -s asv -- tf2.15 tf2.21 [--range HEAD^!] [--machine NAME]
    (no labels: the default matrix; the machine name defaults to $TFCANARY_ASV_MACHINE or the host).
    """
    import argparse

    ap = argparse.ArgumentParser(prog="nox -s asv --")
    ap.add_argument("labels", nargs="*")
    ap.add_argument("--range", default="HEAD^!")
    ap.add_argument("--machine", default=os.environ.get("TFCANARY_ASV_MACHINE") or platform.node())
    opts = ap.parse_args(session.posargs)
    session.install("asv>=0.6.4", "virtualenv", "uv")
    if asvconf.read() != asvconf.generate():
        session.error("asv.conf.json is stale: run `PYTHONPATH=src python -m tfcanary.envs.asv`.")
    session.run("asv", "machine", "--yes", "--machine", opts.machine)
    entries = [matrix.get(label) for label in opts.labels] if opts.labels else matrix.default()
    envs_args = [a for e in entries for a in ("-E", asvconf.env_name(e))]
    session.run("asv", "run", "--machine", opts.machine, "--show-stderr", *envs_args, opts.range)
    session.run("asv", "publish")
    session.log(f"dashboard: {ROOT / '.asv' / 'html' / 'index.html'} (serve it: "
                "python -m http.server -d .asv/html)")


@nox.session(venv_backend="uv", default=False)
def tests(session: nox.Session) -> None:
    """Run the test suite, end-to-end tests on real TensorFlow included (pass -m 'not e2e' to skip them)."""
    session.install("-e", f"{ROOT}[test]")
    session.run("pytest", *session.posargs)


@nox.session(name="bisect", venv_backend="uv", default=False)
def bisect_session(session: nox.Session) -> None:
    """The first release or nightly at which each transition A -> B appeared: nox -s bisect -- tf2.16 tf2.21.

    Every option of `tfcanary bisect` passes through (--select, --case/--variant/--mode, --cases DIR,
    --timeout, --out); --results-dir DIR is the results folder (default results/).  Writes
    <results>/bisect/<A>--<B>.json and .md.
    """
    try:
        args = sessions.bisect_args(session.posargs, ROOT)
    except UsageError as exc:
        session.error(str(exc))
    session.install("-e", str(ROOT), "uv")
    session.run("python", "-m", "tfcanary", *args)

# --- The nightly CI (.github/workflows/nightly.yml) --------------------------------------------
# Each session runs one `tfcanary nightly <step>` (src/tfcanary/nightly/cli.py), so a night runs
# the same on a laptop; nox only provides what a step needs installed (asv, the reports' extras).


@nox.session(name="nightly-matrix", venv_backend="none", default=False)
def nightly_matrix(session: nox.Session) -> None:
    """Print the fan-out's environment labels as JSON (-- --github-output FILE also writes envs=...)."""
    _tfcanary(session, "nightly", "matrix", *session.posargs)


@nox.session(name="nightly-pin", venv_backend="none", default=False)
def nightly_pin(session: nox.Session) -> None:
    """Pin tonight's tf-nightly/keras-nightly and add the night's commit to the `nightly` branch.

    nox -s nightly-pin -- [--push] [--require 'tf-nightly==VERSION'] [--github-output FILE]
    """
    _tfcanary(session, "nightly", "pin", "--root", str(ROOT), *session.posargs)


@nox.session(name="nightly-env", venv_backend="uv", default=False)
def nightly_env(session: nox.Session) -> None:
    """Probe, time and asv-benchmark one environment at the night's commit, staged into artifact/.

    nox -s nightly-env -- LABEL --sha SHA [--machine NAME] [--select ID] [--timer-args "..."]
                                [--bench REGEX] [--out artifact]
    The environment is nox's (.nox/<label>); each step runs even when an earlier one failed.
    """
    session.install("asv>=0.6.4", "virtualenv", "uv", "-e", str(ROOT))
    label = next((w for w in session.posargs if not w.startswith("-")), None)
    venv = ["--venv", str(sessions.nox_venv(ROOT, label))] if label in matrix.by_label() else []
    session.run("python", "-m", "tfcanary", "nightly", "env", "--root", str(ROOT), *venv, *session.posargs)


@nox.session(name="nightly-merge", venv_backend="none", default=False)
def nightly_merge(session: nox.Session) -> None:
    """Merge the per-environment artifacts: nox -s nightly-merge -- ARTIFACTS_DIR."""
    if len(session.posargs) != 1:
        session.error(f"Expected one folder: nox -s nightly-merge -- artifacts. Received: {session.posargs}")
    _tfcanary(session, "nightly", "merge", str(ROOT / session.posargs[0]), "--root", str(ROOT))


@nox.session(name="nightly-reports", venv_backend="uv", default=False)
def nightly_reports(session: nox.Session) -> None:
    """Summary, version matrix and the upgrade report tf2.21 -> nightly from results/."""
    session.install("-e", str(ROOT))
    session.run("python", "-m", "tfcanary", "nightly", "reports", "--root", str(ROOT), *session.posargs)


@nox.session(name="nightly-publish", venv_backend="uv", default=False)
def nightly_publish(session: nox.Session) -> None:
    """Earlier nights (asv-results branch) + tonight -> asv publish -> asv-results and gh-pages.

    nox -s nightly-publish -- [--push] [--remote origin] [--branch nightly]
    """
    session.install("asv>=0.6.4", "-e", str(ROOT))
    session.run("python", "-m", "tfcanary", "nightly", "publish", "--root", str(ROOT),
                "--reports", str(ROOT / "reports"), *session.posargs)


@nox.session(name="nightly-check", venv_backend="uv", default=False)
def nightly_check(session: nox.Session) -> None:
    """The check against snapshots/; on transitions the bisection tf2.21 -> nightly, then fail.

    Writes reports/check.xml and check.md (and the step summary on GitHub); exit 1 on transitions.
    """
    session.install("-e", str(ROOT), "uv")
    session.run("python", "-m", "tfcanary", "nightly", "check", "--root", str(ROOT), *session.posargs)


@nox.session(name="nightly-alert", venv_backend="none", default=False)
def nightly_alert(session: nox.Session) -> None:
    """Open, update or close the alert issue from reports/check.xml (gh; -- --dry-run to only print)."""
    _tfcanary(session, "nightly", "alert", "--root", str(ROOT), "--reports", str(ROOT / "reports"),
              *session.posargs)
