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
