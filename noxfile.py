"""tfcanary's sessions: one per environment of the matrix, plus summary and tests.

    nox                      # default matrix: probe each environment, then summary and report
    nox -t full              # every TF minor 2.12-2.21, as released and latest, and nightly
    nox -s tf2.15 tf2.21     # chosen environments
    nox -s tests             # the test suite
    nox -s speed -- tf2.15   # eager vs tf.function vs XLA timing (results/speed/)
    nox -s asv -- tf2.15     # asv benchmarks in chosen environments, HTML in .asv/html
    nox -l                   # list every session

Options after ``--`` reach every selected session:
    gpu                      install the CUDA build (tensorflow[and-cuda]) instead of tensorflow-cpu
    --results-dir DIR        where results files go (default: results/)
    --cases DIR              probe this case folder instead of cases/ (repeatable; relative to
                             where nox was started, or absolute)
    --select PATTERN         only cases whose id, family or tag matches (repeatable)
    --timeout SECONDS        per (case, variant, mode) before it is recorded as a timeout
    --shuffle SEED, --jobs N passed to the probe as they are
Any other option is an error that names it.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))

from tfcanary import envs, matrix, results, userrun  # noqa: E402

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = False
nox.options.sessions = [e.label for e in matrix.default()] + ["summary", "report"]

PROBE = ROOT / "src" / "tfcanary" / "_probe.py"
PINS = ROOT / "nightly-pins.txt"


class _OptionsError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:   # argparse would exit; the session reports it
        raise _OptionsError(message)


def _parse(session: nox.Session) -> argparse.Namespace:
    """The options after ``--``, shared by every session; an unknown one is an error naming it.

    Paths (``--cases``, ``--results-dir``, ``--snapshots``) are relative to the
    folder nox was started in, since nox itself runs in the noxfile's folder.
    """
    ap = _Parser(prog="nox -s <session> --", add_help=False, allow_abbrev=False)
    ap.add_argument("words", nargs="*")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--cases", action="append", default=[])
    ap.add_argument("--select", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--shuffle")
    ap.add_argument("--jobs")
    ap.add_argument("--speedups")
    ap.add_argument("--snapshots")
    ap.add_argument("--update", action="store_true")
    try:
        opts, unknown = ap.parse_known_args(session.posargs)
        if unknown:
            raise _OptionsError(f"unknown {sorted(unknown)}")
    except _OptionsError as exc:
        session.error(f"Expected options after -- like 'gpu', '--cases DIR', '--select ID', "
                      f"'--results-dir DIR', '--timeout S', '--shuffle SEED', '--jobs N'. "
                      f"Received: {' '.join(session.posargs)} ({exc})")
    base = Path(getattr(session, "invoked_from", None) or ROOT)
    opts.results_dir = (base / opts.results_dir).resolve()
    opts.cases = [(base / c).resolve() for c in opts.cases]
    if opts.snapshots:
        opts.snapshots = str((base / opts.snapshots).resolve())
    opts.gpu = "gpu" in opts.words
    return opts


def _options(session: nox.Session) -> argparse.Namespace:
    """The environment sessions' options: words other than ``gpu`` are an error."""
    opts = _parse(session)
    unknown_words = sorted(set(opts.words) - {"gpu"})
    if unknown_words:
        session.error(f"Expected options like 'gpu' or '--select ID'. Received: {unknown_words}")
    for folder in opts.cases:
        if not folder.is_dir():
            session.error(f"Expected --cases to name a folder of case modules. Received: {folder} "
                          f"({'not a folder' if folder.exists() else 'not found'}).")
    return opts


def _probe_env(session: nox.Session, entry: matrix.Entry) -> None:
    opts = _options(session)
    out = opts.results_dir / f"{entry.label}.json"
    pins = matrix.read_pins(PINS) if entry.tf == "nightly" else None
    venv = Path(session.virtualenv.location)
    session.log(f"installing {' '.join(entry.requirements(gpu=opts.gpu, pins=pins))}"
                + (f" as of {entry.exclude_newer}" if entry.exclude_newer else ""))
    inst = envs.install(entry, venv, gpu=opts.gpu, pins=pins,
                        upgrade=entry.tf == "nightly" and not pins)
    session.log(("reused the installed environment" if inst.reused else "installed" if inst.ok
                 else "install failed") + f" in {inst.seconds:.1f} s")
    if not inst.ok:
        results.write(out, {
            "label": entry.label, "status": "install-failed", "env": entry.to_dict(),
            "install": inst.to_dict(), "message": inst.message,
            "metadata": {"python": entry.python, "platform": platform.platform(),
                         "released": entry.released},
            "cases": [], "corpus_errors": [], "outcomes": [],
        })
        session.error(f"{entry.label}: install failed, recorded in {out}:\n{inst.message[-2000:]}")
    cases = opts.cases or [ROOT / "cases"]
    args = [str(PROBE), *userrun.case_args(cases), "--label", entry.label,
            "--out", str(out), "--env-json", json.dumps(entry.to_dict()),
            "--install-json", json.dumps(inst.to_dict()), "--timeout", str(opts.timeout)]
    args += userrun.probe_options(opts.select, opts.shuffle, opts.jobs)
    session.log(f"probing {' '.join(map(str, cases))} in {entry.label} -> {out}")
    try:
        session.run("python", *args, env=dict(entry.env), log=False)
    finally:
        userrun.stamp_corpus(out, cases, ROOT / "snapshots" if not opts.cases else None, cwd=ROOT)


def _make_env_session(entry: matrix.Entry) -> None:
    tags = ["full"] + (["default"] if entry.default else []) + [entry.flavour]

    def session_fn(session: nox.Session) -> None:
        _probe_env(session, entry)

    session_fn.__doc__ = f"Probe the corpus in {entry.label}: {entry.note}."
    nox.session(python=entry.python, name=entry.label, tags=tags,
                download_python="never", default=entry.default)(session_fn)


for _entry in matrix.full():
    _make_env_session(_entry)


@nox.session(tags=["full", "default"], venv_backend="uv")
def summary(session: nox.Session) -> None:
    """Count outcomes per environment (ok / error / crash / timeout / skip); write results/summary.txt."""
    opts = _parse(session)
    session.install("-e", str(ROOT))
    session.run("python", "-m", "tfcanary", "summary", str(opts.results_dir), "--expect-default",
                "--write", str(opts.results_dir / "summary.txt"))


@nox.session(venv_backend="uv", default=False)
def report(session: nox.Session) -> None:
    """Write the version matrix, reports/index.html, from results/ (options: --results-dir, --speedups FILE)."""
    opts = _report_options(session)
    session.install("-e", str(ROOT))
    extra = ["--speedups", opts.speedups] if opts.speedups else []
    session.run("python", "-m", "tfcanary", "report", str(opts.results_dir),
                "--out", str(ROOT / "reports"), *extra)


@nox.session(venv_backend="uv", default=False)
def upgrade(session: nox.Session) -> None:
    """Write the upgrade-risk report A -> B: nox -s upgrade -- tf2.15 tf2.21 [--results-dir DIR]."""
    opts = _report_options(session)
    if len(opts.words) != 2:
        session.error(f"Expected two environments: nox -s upgrade -- tf2.15 tf2.21. Received: {opts.words}")
    session.install("-e", str(ROOT))
    extra = ["--speedups", opts.speedups] if opts.speedups else []
    session.run("python", "-m", "tfcanary", "upgrade", *opts.words, "--results", str(opts.results_dir),
                "--out", str(ROOT / "reports"), *extra)


@nox.session(venv_backend="uv", default=False)
def check(session: nox.Session) -> None:
    """Compare results/ with the corpus's snapshots (exit 1 on transitions); -- --update rewrites them."""
    opts = _report_options(session)
    session.install("-e", str(ROOT))
    # Without --snapshots, check takes the snapshots of the corpus the results came from:
    # snapshots/ for this repo's cases/, <DIR>/snapshots for a run with --cases DIR.
    args = ["--results", str(opts.results_dir), *(["--snapshots", opts.snapshots] if opts.snapshots else []),
            "--junit", str(ROOT / "reports" / "check.xml"), "--markdown", str(ROOT / "reports" / "check.md")]
    session.run("python", "-m", "tfcanary", "check", *args, *(["--update"] if opts.update else []))


def _report_options(session: nox.Session) -> argparse.Namespace:
    opts = _parse(session)
    found = opts.results_dir / "speed" / "speedups.csv"   # written by the speed session, if run
    if opts.speedups is None and found.exists():
        opts.speedups = str(found)
    return opts


TIMER = ROOT / "src" / "tfcanary" / "_timer.py"


def _labels(words: list[str]) -> list[matrix.Entry]:
    return [matrix.get(w) for w in words] if words else matrix.default()


@nox.session(venv_backend="none", default=False)
def speed(session: nox.Session) -> None:
    """Time eager vs tf.function vs XLA in built environments; write results/speed/<env>.json.

    nox -s speed -- tf2.15 tf2.21 [--processes 3 --repeats 20 --target-ms 8 --threads 1 --pin-cpu -1
                                   --select ID]
    (no labels: the default matrix).  Each environment must be built first (`nox -s tf2.15`).
    """
    ap = argparse.ArgumentParser(prog="nox -s speed --")
    ap.add_argument("labels", nargs="*")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--select", action="append", default=[])
    forwarded = ("processes", "repeats", "target_ms", "threads", "timeout", "pin_cpu",
                 "target_hw", "max_processes", "budget_s")
    for opt in forwarded:
        ap.add_argument("--" + opt.replace("_", "-"))
    opts = ap.parse_args(session.posargs)
    out_dir = (ROOT / opts.results_dir / "speed").resolve()
    for entry in _labels(opts.labels):
        python = ROOT / ".nox" / entry.label.replace(".", "-") / "bin" / "python"
        if not python.exists():
            session.error(f"{entry.label} is not built: run `nox -s {entry.label}` first.")
        args = [str(TIMER), "--cases", str(ROOT / "cases"), "--cases", str(ROOT / "workloads"),
                "--label", entry.label, "--out", str(out_dir / f"{entry.label}.json"),
                "--env-json", json.dumps(entry.to_dict())]
        for opt in forwarded:
            if getattr(opts, opt) is not None:
                args += [f"--{opt.replace('_', '-')}", getattr(opts, opt)]
        for pattern in opts.select:
            args += ["--select", pattern]
        session.run(str(python), *args, env=dict(entry.env), external=True)
    from tfcanary import speed as _speed

    session.log("\n" + _speed.render([out_dir]))
    session.log(f"wrote {_speed.write_csv([out_dir], out_dir / 'speedups.csv')} (nox -s report -- --speedups FILE)")


@nox.session(venv_backend="uv", default=False)
def asv(session: nox.Session) -> None:
    """Run the asv benchmarks in chosen environments and publish the HTML to .asv/html.

    nox -s asv -- tf2.15 tf2.21 [--range HEAD^!] [--machine NAME]
    (no labels: the default matrix; the machine name defaults to $TFCANARY_ASV_MACHINE or the host).
    """
    import os

    from tfcanary import asvconf

    ap = argparse.ArgumentParser(prog="nox -s asv --")
    ap.add_argument("labels", nargs="*")
    ap.add_argument("--range", default="HEAD^!")
    ap.add_argument("--machine", default=os.environ.get("TFCANARY_ASV_MACHINE") or platform.node())
    opts = ap.parse_args(session.posargs)
    session.install("asv>=0.6.4", "virtualenv", "uv")
    if asvconf.read() != asvconf.generate():
        session.error("asv.conf.json is stale: run `PYTHONPATH=src python -m tfcanary.asvconf`.")
    session.run("asv", "machine", "--yes", "--machine", opts.machine)
    envs_args = [a for e in _labels(opts.labels) for a in ("-E", asvconf.env_name(e))]
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
    ap = argparse.ArgumentParser(prog="nox -s bisect --", add_help=False)
    ap.add_argument("--results-dir", default="results")
    opts, rest = ap.parse_known_args(session.posargs)
    words = [w for w in rest if not w.startswith("-")]
    if len(words) < 2:
        session.error(f"Expected two environments: nox -s bisect -- tf2.16 tf2.21. Received: {session.posargs}")
    session.install("-e", str(ROOT), "uv")
    extra = [] if "--cases" in rest else ["--cases", str(ROOT / "cases")]
    session.run("python", "-m", "tfcanary", "bisect", *rest,
                "--results", str((ROOT / opts.results_dir).resolve()), *extra)

# --- The nightly CI (.github/workflows/nightly.yml) --------------------------------------------
# Every step of substance is one of these sessions, so a night runs the same on a laptop:
#   nox -s nightly-pin -- --push                 tonight's nightlies -> a commit on the `nightly` branch
#   nox -s nightly-env -- nightly --sha SHA      probe, time and asv-benchmark one environment
#   nox -s nightly-merge -- artifacts            the per-environment artifacts -> results/, .asv/results/
#   nox -s nightly-reports                       summary, version matrix, upgrade report tf2.21 -> nightly
#   nox -s nightly-publish -- --push             asv history -> asv-results, HTML + reports -> gh-pages
#   nox -s nightly-check                         the check (+ bisection on transitions); fails on transitions
#   nox -s nightly-alert                         open / update / close the alert issue (gh)

BISECT_PAIR = ("tf2.21", "nightly")   # tonight's transitions against the newest stable release


def _tfcanary_here(session: nox.Session, *args: str, **kwargs) -> None:
    """Run the CLI from src/ with the interpreter running nox (the nightly steps need no extras)."""
    env = {"PYTHONPATH": str(ROOT / "src"), **kwargs.pop("env", {})}
    session.run(sys.executable, "-m", "tfcanary", *args, env=env, external=True, **kwargs)


def _nox_here(session: nox.Session, *args: str, env: dict | None = None) -> bool:
    """A session of this noxfile as its own nox run; False (logged) when it fails."""
    try:
        session.run(sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args,
                    env=env or {}, external=True)
        return True
    except nox.command.CommandFailed:
        session.warn(f"nox {' '.join(args)} failed")
        return False


@nox.session(name="nightly-matrix", venv_backend="none", default=False)
def nightly_matrix(session: nox.Session) -> None:
    """Print the fan-out's environment labels as JSON (-- --github-output FILE also writes envs=...)."""
    _tfcanary_here(session, "nightly", "matrix", *session.posargs)


@nox.session(name="nightly-pin", venv_backend="none", default=False)
def nightly_pin(session: nox.Session) -> None:
    """Pin tonight's tf-nightly/keras-nightly and add the night's commit to the `nightly` branch.

    nox -s nightly-pin -- [--push] [--require 'tf-nightly==VERSION'] [--github-output FILE]
    """
    _tfcanary_here(session, "nightly", "pin", "--root", str(ROOT), *session.posargs)


@nox.session(name="nightly-env", venv_backend="uv", default=False)
def nightly_env(session: nox.Session) -> None:
    """Probe, time and asv-benchmark one environment at the night's commit, staged into artifact/.

    nox -s nightly-env -- LABEL --sha SHA [--machine NAME] [--select ID] [--timer-args "..."]
                                [--bench REGEX] [--out artifact]
    Each step runs even when an earlier one failed (an install failure is recorded); the
    session fails at the end if any did.
    """
    import os
    import shlex

    ap = argparse.ArgumentParser(prog="nox -s nightly-env --")
    ap.add_argument("label")
    ap.add_argument("--sha", required=True)
    ap.add_argument("--machine", default=os.environ.get("TFCANARY_ASV_MACHINE") or platform.node())
    ap.add_argument("--select", action="append", default=[])
    ap.add_argument("--timer-args", default="", help="timer options for speed and asv, e.g. '--processes 1'")
    ap.add_argument("--bench", help="only the asv benchmarks matching this regex (a quick look)")
    ap.add_argument("--results-dir", default="results")
    ap.add_argument("--out", default="artifact")
    opts = ap.parse_args(session.posargs)
    matrix.get(opts.label)   # a clear error for an unknown label
    # Tonight's probe is a new observation with tonight's packages: a --select run
    # would refuse to merge into an earlier night's results of other versions.
    (ROOT / opts.results_dir / f"{opts.label}.json").unlink(missing_ok=True)
    select = [a for p in opts.select for a in ("--select", p)]
    ok = _nox_here(session, "-s", opts.label, "--", "--results-dir", opts.results_dir, *select)
    ok &= _nox_here(session, "-s", "speed", "--", opts.label, "--results-dir", opts.results_dir,
                    *select, *shlex.split(opts.timer_args))
    # asv directly, not the asv session: that one also publishes, which needs the branches
    # that a checkout of one commit lacks; publishing is the merge job's.
    from tfcanary import asvconf

    session.install("asv>=0.6.4", "virtualenv", "uv")
    asv_env = {"TFCANARY_SELECT": ",".join(opts.select), "TFCANARY_TIMER_ARGS": opts.timer_args}
    try:
        session.run("asv", "machine", "--yes", "--machine", opts.machine)
        session.run("asv", "run", "--machine", opts.machine, "--show-stderr",
                    "-E", asvconf.env_name(matrix.get(opts.label)), f"{opts.sha}^!",
                    *(["--bench", opts.bench] if opts.bench else []), env=asv_env)
    except nox.command.CommandFailed:
        session.warn(f"asv run failed in {opts.label}")
        ok = False
    _tfcanary_here(session, "nightly", "stage", opts.label, "--root", str(ROOT), "--sha", opts.sha,
                   "--machine", opts.machine, "--results-dir", str(ROOT / opts.results_dir),
                   "--out", str(ROOT / opts.out))
    if not ok:
        session.error(f"{opts.label}: a step failed (what it recorded is staged in {opts.out}/)")


@nox.session(name="nightly-merge", venv_backend="none", default=False)
def nightly_merge(session: nox.Session) -> None:
    """Merge the per-environment artifacts: nox -s nightly-merge -- ARTIFACTS_DIR."""
    if len(session.posargs) != 1:
        session.error(f"Expected one folder: nox -s nightly-merge -- artifacts. Received: {session.posargs}")
    _tfcanary_here(session, "nightly", "merge", str(ROOT / session.posargs[0]), "--root", str(ROOT))


@nox.session(name="nightly-reports", venv_backend="uv", default=False)
def nightly_reports(session: nox.Session) -> None:
    """Summary, version matrix and the upgrade report tf2.21 -> nightly from results/."""
    opts = _report_options(session)
    session.install("-e", str(ROOT))
    res, out = str(opts.results_dir), str(ROOT / "reports")
    session.run("python", "-m", "tfcanary", "summary", res, "--write", str(opts.results_dir / "summary.txt"))
    speed_dir = opts.results_dir / "speed"
    extra = []
    if any(speed_dir.glob("*.json")):
        session.run("python", "-m", "tfcanary", "speed", str(speed_dir), "--csv", str(speed_dir / "speedups.csv"))
        extra = ["--speedups", str(speed_dir / "speedups.csv")]
    session.run("python", "-m", "tfcanary", "report", res, "--out", out, *extra)
    if all((opts.results_dir / f"{label}.json").exists() for label in BISECT_PAIR):
        session.run("python", "-m", "tfcanary", "upgrade", *BISECT_PAIR, "--results", res, "--out", out, *extra)


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
    import os
    import shutil

    from tfcanary import alert

    opts = _report_options(session)
    session.install("-e", str(ROOT))
    reports = ROOT / "reports"
    session.run("python", "-m", "tfcanary", "check", "--results", str(opts.results_dir),
                "--snapshots", str(ROOT / "snapshots"), "--junit", str(reports / "check.xml"),
                "--markdown", str(reports / "check.md"), success_codes=[0, 1])
    outcome = alert.read_check(reports)
    if outcome.transitions and "bisect" in nox.registry.get():
        # High-risk changes only, to keep the night bounded; tolerated: the check still reports.
        _nox_here(session, "-s", "bisect", "--", *BISECT_PAIR, "--high-risk",
                  "--results-dir", str(opts.results_dir))
        for md in (opts.results_dir / "bisect").glob("*.md"):     # the alert reads reports/ only
            (reports / "bisect").mkdir(parents=True, exist_ok=True)
            shutil.copy2(md, reports / "bisect" / md.name)
        outcome = alert.read_check(reports)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(outcome.markdown + ("\n\n## Bisection\n\n" + outcome.bisect if outcome.bisect else ""))
    if outcome.transitions:
        session.error(f"{len(outcome.transitions)} transitions against snapshots/ (reports/check.md)")


@nox.session(name="nightly-alert", venv_backend="none", default=False)
def nightly_alert(session: nox.Session) -> None:
    """Open, update or close the alert issue from reports/check.xml (gh; -- --dry-run to only print)."""
    _tfcanary_here(session, "nightly", "alert", "--root", str(ROOT), "--reports", str(ROOT / "reports"),
                   *session.posargs)
