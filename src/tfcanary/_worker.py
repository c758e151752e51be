"""The probe's worker: imports TensorFlow once and runs the items it is given.

Started by :mod:`tfcanary._probe` with one environment's interpreter, by path,
in its own process group.  It reads item numbers (indices into the plan's
``[case, variant, mode]`` list), one a line, from stdin and writes events as
JSON lines to the pipe ``--events-fd``: ``ready`` once TensorFlow is imported,
then per item ``start`` (with the item's working directory) and ``outcome``.
An item that crashes or hangs the worker is known by its ``start`` without an
``outcome``.  End of stdin ends the worker.  TensorFlow's log output goes to
the worker's stdout/stderr, which the supervisor sends to a log file.

Each item runs in a fresh empty folder ``tfcanary-item-*`` under ``--items-dir``
as its working directory, removed afterwards, after :mod:`tfcanary._hermetic`
reset the global state; the outcome's ``leaked`` names what the item left
changed.  The worker dies with the supervisor: ``PR_SET_PDEATHSIG`` on Linux,
a thread watching the parent's pid elsewhere
(:func:`tfcanary._supervisor.die_with_parent`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional


def _bootstrap() -> None:
    src = str(Path(__file__).resolve().parent.parent)
    if src not in sys.path:
        sys.path.insert(0, src)


_bootstrap()

from tfcanary import case as _case  # noqa: E402
from tfcanary import corpus as _corpus  # noqa: E402
from tfcanary import fingerprint as _fp  # noqa: E402
from tfcanary import _hermetic, _supervisor  # noqa: E402


class OutputMismatch(AssertionError):
    """``saved``: the reloaded model computes something else than the original."""


OutputMismatch.__module__ = "tfcanary"


class CaseReturnError(TypeError):
    """A case's variant returned the wrong type: a corpus error, not an observation."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


CaseReturnError.__module__ = "tfcanary"


class NotApplicable(Exception):
    """Raised by a mode that does not apply; becomes a ``skip`` outcome."""


def exc_type_name(exc: BaseException) -> str:
    t = type(exc)
    module = t.__module__
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


def user_frame(exc: BaseException, case_file: str) -> Optional[str]:
    """The innermost frame of the traceback inside the case's file: where user code failed."""
    found = None
    case_file = os.path.realpath(case_file)
    tb = exc.__traceback__
    frames = traceback.extract_tb(tb)
    for fr in frames:
        if os.path.realpath(fr.filename) == case_file:
            found = f"{_corpus.display_path(fr.filename)}:{fr.lineno} in {fr.name}"
    return found


# ---------------------------------------------------------------- the modes

class Driver:
    """Runs one (case, variant, mode) with real TensorFlow."""

    def __init__(self, tf: Any, keras: Any, np: Any) -> None:
        self.tf, self.keras, self.np = tf, keras, np
        self.hermetic = _hermetic.Hermetic(tf, keras, np)
        self.workdir = os.getcwd()  # the item's folder, set by run_item

    def build(self, case: _case.Case, variant: str) -> _case.Built:
        built = case.variants[variant](self.tf, self.keras)
        if not isinstance(built, _case.Built):
            file, line = case.variant_location(variant)
            raise CaseReturnError(
                _corpus.display_path(file), line, f"layer case {case.id!r} variant {variant!r} returned "
                f"{type(built).__name__}; expected tfcanary.case.Built(layer, x=...)")
        return built

    def run(self, case: _case.Case, variant: str, mode: str) -> None:
        if case.kind == "script":
            result = case.variants[variant](self.tf, self.keras)
            if result is not None:
                file, line = case.variant_location(variant)
                raise CaseReturnError(
                    _corpus.display_path(file), line, f"script case {case.id!r} variant {variant!r} returned "
                    f"{type(result).__name__}; a script case returns None and fails by raising")
            return
        built = self.build(case, variant)
        if mode in built.skip:
            raise NotApplicable(built.skip[mode])
        getattr(self, "mode_" + mode.replace("-", "_"))(built)

    # -- helpers
    def _input(self, built: _case.Built) -> Any:
        if built.numpy_input:
            return built.x
        return self.tf.nest.map_structure(self.tf.constant, built.x)

    def _materialize(self, out: Any) -> Any:
        return self.tf.nest.map_structure(lambda t: self.np.asarray(t), out)

    def _model(self, built: _case.Built) -> Any:
        layer = built.layer
        if isinstance(layer, self.keras.Model):
            return layer
        return self.keras.Sequential([layer])

    # -- modes
    def mode_eager(self, built: _case.Built) -> None:
        self._materialize(built.layer(self._input(built)))

    def _traced(self, built: _case.Built, **kw: Any) -> None:
        layer = built.layer
        fn = self.tf.function(lambda t: layer(t), **kw)
        self._materialize(fn(self._input(built)))

    def mode_graph(self, built: _case.Built) -> None:
        self._traced(built)

    def mode_graph_noautograph(self, built: _case.Built) -> None:
        self._traced(built, autograph=False)

    def mode_xla(self, built: _case.Built) -> None:
        self._traced(built, jit_compile=True)

    def mode_symbolic(self, built: _case.Built) -> None:
        x = built.x
        inp = self.keras.Input(shape=tuple(x.shape[1:]), dtype=str(x.dtype))
        out = built.layer(inp)
        model = self.keras.Model(inp, out)
        self._materialize(model(self._input(built)))

    def mode_fit(self, built: _case.Built) -> None:
        model = self._model(built)
        x = self._input(built)
        y = built.y
        if y is None:
            y = self.tf.nest.map_structure(self.np.zeros_like, self._materialize(model(x)))
        if not model.trainable_weights:
            raise NotApplicable("the layer has no trainable weights: nothing to fit")
        model.compile(optimizer="sgd", loss="mse")
        model.fit(built.x, y, epochs=1, batch_size=len(built.x), verbose=0)

    def mode_saved(self, built: _case.Built) -> None:
        model = self._model(built)
        x = self._input(built)
        before = self._materialize(model(x))
        custom = self._custom_objects(model)
        custom.update(built.custom_objects or {})
        path = os.path.join(self.workdir, "model.keras")
        if os.path.exists(path):
            os.unlink(path)
        model.save(path)
        loaded = self.keras.models.load_model(path, custom_objects=custom, compile=False)
        after = self._materialize(loaded(x))
        self._compare(before, after, exact=built.deterministic)

    def _custom_objects(self, model: Any) -> Dict[str, Any]:
        seen: Dict[str, Any] = {}
        stack = [model]
        while stack:
            layer = stack.pop()
            cls = type(layer)
            if not cls.__module__.startswith(("keras", "tf_keras", "tensorflow")):
                seen[cls.__name__] = cls
            flatten = getattr(layer, "_flatten_layers", None)
            if flatten is not None:
                stack.extend(l for l in flatten(include_self=False, recursive=False))
        return seen

    def _compare(self, before: Any, after: Any, exact: bool) -> None:
        np = self.np
        a = self.tf.nest.flatten(before)
        b = self.tf.nest.flatten(after)
        if len(a) != len(b):
            raise OutputMismatch(f"reloaded model returns {len(b)} outputs; the original {len(a)}")
        for i, (u, v) in enumerate(zip(a, b)):
            if u.shape != v.shape:
                raise OutputMismatch(f"output {i}: reloaded shape {v.shape}, original {u.shape}")
            if not exact:
                continue
            try:
                # In float64: NumPy before 2 cannot promote bfloat16 (ml_dtypes) in allclose.
                u64, v64 = u.astype("float64"), v.astype("float64")
            except (TypeError, ValueError):   # strings, objects: compare as they are
                if not np.array_equal(u, v):
                    raise OutputMismatch(f"output {i}: reloaded values differ") from None
                continue
            if not np.allclose(u64, v64, rtol=1e-5, atol=1e-6):
                diff = float(np.max(np.abs(u64 - v64)))
                raise OutputMismatch(f"output {i}: reloaded values differ (max abs diff {diff:.3g})")


# ---------------------------------------------------------------- metadata

def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pip_freeze() -> List[str]:
    """``name==version`` of every installed distribution, sorted; names as
    PEP 503 normalizes them (newer wheels write tensorflow_cpu, older tensorflow-cpu)."""
    import sysconfig
    from importlib import metadata as im

    # The environment's own site-packages, not sys.path: importing TensorFlow
    # puts setuptools' vendored packages (jaraco-*, autocommand) on sys.path, so
    # a freeze taken after some cases ran would list more than one taken before.
    site = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    return sorted({
        f"{re.sub(r'[-_.]+', '-', d.metadata['Name']).lower()}=={d.version}"
        for d in im.distributions(path=site) if d.metadata["Name"]})


def collect_metadata(tf: Any, keras: Any, np: Any) -> Dict[str, Any]:
    from importlib import metadata as im

    freeze = pip_freeze()
    devices = []
    for d in tf.config.list_physical_devices():
        entry = {"name": d.name, "type": d.device_type}
        if d.device_type == "GPU":
            try:
                entry["description"] = tf.config.experimental.get_device_details(d).get("device_name")
            except Exception:  # details are best effort; the device itself is recorded
                pass
        devices.append(entry)
    keras_module = getattr(keras, "__name__", "") or ""
    keras_version = getattr(keras, "__version__", None)
    if not keras_version:  # tf.keras of TF <= 2.15 has no __version__
        dist = "tf-keras" if keras_module.startswith("tf_keras") else "keras"
        try:
            keras_version = im.version(dist)
        except im.PackageNotFoundError:
            keras_version = None
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "tensorflow": tf.__version__,
        "keras": keras_version,
        "keras_module": keras_module,
        "numpy": np.__version__,
        "pip_freeze": freeze,
        "devices": devices,
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "tf_use_legacy_keras": os.environ.get("TF_USE_LEGACY_KERAS"),
        "normalizer_version": _fp.NORMALIZER_VERSION,
    }


# ---------------------------------------------------------------- main loop

def _emit(stream: Any, event: Dict[str, Any]) -> None:
    stream.write(json.dumps(event) + "\n")
    stream.flush()


def run_item(driver: Driver, case: _case.Case, variant: str, mode: str,
             items_dir: str) -> Dict[str, Any]:
    """Run one item in a fresh folder after a reset; the outcome as a dict."""
    item_dir = tempfile.mkdtemp(prefix="tfcanary-item-", dir=items_dir)
    os.chdir(item_dir)
    driver.workdir = item_dir
    driver.hermetic.reset()
    t0 = time.perf_counter()
    rec: Dict[str, Any] = {"case": case.id, "variant": variant, "mode": mode}
    gc_was = gc.isenabled()
    try:
        driver.run(case, variant, mode)
        rec["status"] = "ok"
    except NotApplicable as exc:
        rec.update(status="skip", reason=str(exc))
    except CaseReturnError as exc:
        rec.update(status="skip", reason=f"corpus error: {exc}",
                   corpus_error={"file": exc.file, "line": exc.line, "message": exc.message})
    except BaseException as exc:  # noqa: B902 -- every failure of user code is data, even SystemExit
        name = exc_type_name(exc)
        # items_dir is also the worker's TMPDIR (AutoGraph's generated modules live
        # there): one placeholder for it, whichever worker ran the item.
        message = _hermetic.scrub(str(exc), {item_dir: "<cwd>", os.path.realpath(item_dir): "<cwd>",
                                             items_dir: "<tmp>", os.path.realpath(items_dir): "<tmp>",
                                             os.path.dirname(items_dir): "<probe-tmp>"})
        normalized = _fp.normalize(message)
        rec.update(status="error", exc_type=name, message=message, normalized=normalized,
                   fingerprint=_fp.fingerprint(name, normalized),
                   frame=user_frame(exc, case.file))
    finally:
        if gc_was and not gc.isenabled():
            gc.enable()
    rec["duration_s"] = round(time.perf_counter() - t0, 4)
    leaked = driver.hermetic.leaks(item_dir)
    if leaked:
        rec["leaked"] = leaked
    os.chdir(items_dir)
    shutil.rmtree(item_dir, ignore_errors=True)
    return rec


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", required=True, help="JSON: {cases: [paths], items: [[case, variant, mode]]}")
    ap.add_argument("--events-fd", required=True, type=int, help="pipe to write JSON-line events to")
    ap.add_argument("--items-dir", required=True, help="folder for the items' working directories")
    ap.add_argument("--parent", type=int, default=None, help="the supervisor's pid: die with it")
    ap.add_argument("--meta", action="store_true", help="report the environment's metadata first")
    args = ap.parse_args(argv)
    if args.parent is not None:
        _supervisor.die_with_parent(args.parent)

    with open(args.plan, encoding="utf-8") as f:
        plan = json.load(f)
    stream = os.fdopen(args.events_fd, "w", encoding="utf-8")

    t0 = time.perf_counter()
    import numpy as np
    import tensorflow as tf

    keras = tf.keras
    import_s = time.perf_counter() - t0
    try:
        tf.get_logger().setLevel("ERROR")
        import absl.logging  # type: ignore

        absl.logging.set_verbosity(absl.logging.ERROR)
    except Exception:  # quieter logs are a nicety, not a requirement
        pass
    corpus = _corpus.load(plan["cases"])
    by_id = {c.id: c for c in corpus.cases}
    if args.meta:
        _emit(stream, {"event": "meta", "import_s": round(import_s, 3),
                       "metadata": collect_metadata(tf, keras, np)})
    items_dir = os.path.realpath(args.items_dir)
    os.chdir(items_dir)
    driver = Driver(tf, keras, np)
    items = plan["items"]
    _emit(stream, {"event": "ready"})
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        i = int(line)
        case_id, variant, mode = items[i]
        case = by_id.get(case_id)
        _emit(stream, {"event": "start", "i": i})
        if case is None:
            rec = {"case": case_id, "variant": variant, "mode": mode, "status": "skip",
                   "reason": "case did not load in this environment (see corpus errors)",
                   "duration_s": 0.0}
        else:
            rec = run_item(driver, case, variant, mode, items_dir)
        _emit(stream, {"event": "outcome", "i": i, "outcome": rec})
    _emit(stream, {"event": "done"})
    stream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
