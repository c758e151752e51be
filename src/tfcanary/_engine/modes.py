"""The mode driver: one (case, variant, mode) through real TensorFlow, as an outcome.

Used by the probe's worker (:mod:`tfcanary._engine.worker`) and the timer.
:class:`Driver` builds a case's variant and runs it in one mode (eager,
``tf.function``, XLA, functional, ``fit``, save/load; a script case as a
whole); :func:`run_item` runs one item in a fresh empty folder
``tfcanary-item-*`` as its working directory, removed afterwards, after
:mod:`tfcanary._engine.hermetic` reset the global state, and returns its
:class:`tfcanary.outcome.Outcome` as a dict, whose ``leaked`` names what the
item left changed.  Every failure of the case's code is data: an ``error``
outcome with the module-qualified class, the raw and normalized message, the
fingerprint and the innermost frame in the case's file.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import time
import traceback
from typing import Any, Dict, Optional

from tfcanary import case as _case
from tfcanary import corpus as _corpus
from tfcanary import fingerprint as _fp
from tfcanary._engine import hermetic as _hermetic
from tfcanary.outcome import Outcome, Status


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


# ---------------------------------------------------------------- one item

def error_fields(exc: BaseException, paths: Dict[str, str]) -> Dict[str, Any]:
    """An exception as the fields of an ``error`` outcome: class, message (``paths``
    scrubbed: path -> placeholder), normalized message and fingerprint."""
    name = exc_type_name(exc)
    message = _hermetic.scrub(str(exc), paths)
    normalized = _fp.normalize(message)
    return {"status": Status.ERROR, "exc_type": name, "message": message, "normalized": normalized,
            "fingerprint": _fp.fingerprint(name, normalized)}


def not_loaded(case_id: str, variant: str, mode: str) -> Dict[str, Any]:
    """The outcome of an item whose case did not load in this environment."""
    return Outcome(case_id, variant, mode, Status.SKIP, duration_s=0.0,
                   reason="case did not load in this environment (see corpus errors)").to_dict()


def run_item(driver: Driver, case: _case.Case, variant: str, mode: str,
             items_dir: str) -> Dict[str, Any]:
    """Run one item in a fresh folder after a reset; its outcome as a dict.

    A variant that returns the wrong type is a corpus error, not an observation:
    the outcome is a ``skip`` and carries ``corpus_error`` (file, line,
    message), which the probe moves to the results' corpus errors.
    """
    item_dir = tempfile.mkdtemp(prefix="tfcanary-item-", dir=items_dir)
    os.chdir(item_dir)
    driver.workdir = item_dir
    driver.hermetic.reset()
    t0 = time.perf_counter()
    corpus_error = None
    gc_was = gc.isenabled()
    try:
        driver.run(case, variant, mode)
        fields: Dict[str, Any] = {"status": Status.OK}
    except NotApplicable as exc:
        fields = {"status": Status.SKIP, "reason": str(exc)}
    except CaseReturnError as exc:
        fields = {"status": Status.SKIP, "reason": f"corpus error: {exc}"}
        corpus_error = {"file": exc.file, "line": exc.line, "message": exc.message}
    except BaseException as exc:  # noqa: B902 -- every failure of user code is data, even SystemExit
        # items_dir is also the worker's TMPDIR (AutoGraph's generated modules live
        # there): one placeholder for it, whichever worker ran the item.
        fields = error_fields(exc, {item_dir: "<cwd>", os.path.realpath(item_dir): "<cwd>",
                                    items_dir: "<tmp>", os.path.realpath(items_dir): "<tmp>",
                                    os.path.dirname(items_dir): "<probe-tmp>"})
        fields["frame"] = user_frame(exc, case.file)
    finally:
        if gc_was and not gc.isenabled():
            gc.enable()
    duration = round(time.perf_counter() - t0, 4)
    leaked = tuple(driver.hermetic.leaks(item_dir))
    os.chdir(items_dir)
    shutil.rmtree(item_dir, ignore_errors=True)
    rec = Outcome(case.id, variant, mode, duration_s=duration, leaked=leaked, **fields).to_dict()
    if corpus_error is not None:
        rec["corpus_error"] = corpus_error
    return rec
