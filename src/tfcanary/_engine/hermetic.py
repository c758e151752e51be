"""Global state between the probe's items: reset it before each, report what an item left changed.

Used by the mode driver (:mod:`tfcanary._engine.modes`) inside each TensorFlow
environment; it imports nothing but the standard library and is handed the
environment's ``tf``, ``keras`` (``tf.keras``: Keras 2, Keras 3 or tf-keras)
and ``numpy``.  One item must not change another's outcome whatever order
they run in, so before every item :meth:`Hermetic.reset` restores:

- the Keras session (auto-generated names; Keras 3's global state),
- the dtype policy (``float32``), ``floatx``, ``epsilon``, ``image_data_format``,
- ``tf.config.run_functions_eagerly(False)``,
- the environment variables,
- the seeds of Python's ``random``, NumPy, TensorFlow and Keras (:data:`SEED`,
  the same for every item, so an item gets the same random numbers in any order).

After an item, :meth:`Hermetic.leaks` names what it left changed
(``dtype policy mixed_float16``, ``cwd changed``): the outcome's ``leaked``.
The Keras APIs differ between Keras 2 (``keras.mixed_precision.global_policy``),
Keras 3 (``keras.config.dtype_policy``) and tf-keras; both spellings are tried.
"""

from __future__ import annotations

import inspect
import os
import random
from typing import Any, Callable, Dict, List, Optional

SEED = 0
# What the probe resets to before every item: a fresh process's defaults.
DEFAULTS = {"dtype policy": "float32", "floatx": "float32", "epsilon": 1e-7,
            "image_data_format": "channels_last", "run_functions_eagerly": False}

# Set by pytest itself while a test runs (its teardown error can leave it): not the test's doing.
_OWN_VARIABLES = ("PYTEST_CURRENT_TEST",)

__all__ = ["DEFAULTS", "SEED", "Hermetic", "scrub"]


def _first(*candidates: Any) -> Optional[Callable[..., Any]]:
    for c in candidates:
        if callable(c):
            return c
    return None


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


class Hermetic:
    """Resets and inspects the global state of one worker process.

    ``keep_current``: reset to the state as it is now rather than to
    :data:`DEFAULTS` (a test suite's worker, once pytest collected: what its
    test modules and conftest files set at import is the suite's own starting
    point, as under plain pytest).  ``environ``: also restore the environment
    variables (a suite leaves them to pytest's ``monkeypatch``, and session
    fixtures may set them on purpose).
    """

    def __init__(self, tf: Any, keras: Any, np: Any, keep_current: bool = False,
                 environ: bool = True) -> None:
        self.tf, self.keras, self.np = tf, keras, np
        clear = keras.backend.clear_session
        # Newer Keras 3 clear_session() runs gc.collect() unless told not to:
        # 0.17 s a call with TensorFlow loaded, most of a probe's time.  Names
        # are reset either way, and Python's own GC still runs.
        self._clear_kw = {"free_memory": False} if "free_memory" in inspect.signature(clear).parameters else {}
        k = keras
        self._get_policy = _first(_attr(k, "config.dtype_policy"), _attr(k, "mixed_precision.global_policy"))
        self._set_policy = _first(_attr(k, "config.set_dtype_policy"),
                                  _attr(k, "mixed_precision.set_global_policy"))
        self._setters = {
            "floatx": (_first(_attr(k, "backend.floatx"), _attr(k, "config.floatx")),
                       _first(_attr(k, "backend.set_floatx"), _attr(k, "config.set_floatx"))),
            "epsilon": (_first(_attr(k, "backend.epsilon"), _attr(k, "config.epsilon")),
                        _first(_attr(k, "backend.set_epsilon"), _attr(k, "config.set_epsilon"))),
            "image_data_format": (
                _first(_attr(k, "backend.image_data_format"), _attr(k, "config.image_data_format")),
                _first(_attr(k, "backend.set_image_data_format"), _attr(k, "config.set_image_data_format"))),
        }
        self._keras_seed = _attr(k, "utils.set_random_seed")
        self.environ = dict(os.environ)
        self.restore_environ = environ
        self.defaults = self.snapshot() if keep_current else dict(DEFAULTS)
        self.reset()
        # What every item starts from; the defaults of a fresh process, then pinned.
        self.baseline = self.snapshot()

    def reset(self) -> None:
        """Known defaults for the next item (cheap: a few attribute writes)."""
        self.keras.backend.clear_session(**self._clear_kw)
        if self._set_policy is not None and "dtype policy" in self.defaults:
            self._set_policy(self.defaults["dtype policy"])
        for name in ("floatx", "epsilon", "image_data_format"):
            setter = self._setters[name][1]
            if setter is not None and name in self.defaults:
                setter(self.defaults[name])
        self.tf.config.run_functions_eagerly(bool(self.defaults.get("run_functions_eagerly", False)))
        if not self.restore_environ:
            self.environ = dict(os.environ)     # leaks() then names what the next item changes
        elif dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        random.seed(SEED)
        self.np.random.seed(SEED)
        self.tf.random.set_seed(SEED)
        if self._keras_seed is not None:
            self._keras_seed(SEED)

    def snapshot(self) -> Dict[str, Any]:
        """The resettable state, by the names :meth:`leaks` reports."""
        state: Dict[str, Any] = {}
        if self._get_policy is not None:
            policy = self._get_policy()
            state["dtype policy"] = getattr(policy, "name", policy)
        for name, (getter, _) in self._setters.items():
            if getter is not None:
                state[name] = getter()
        state["run_functions_eagerly"] = self.tf.config.functions_run_eagerly()
        return state

    def leaks(self, cwd: str) -> List[str]:
        """What the item that ran in ``cwd`` left changed, as short notes."""
        now = self.snapshot()
        out = [f"{name} {now.get(name)}" for name in self.baseline if now.get(name) != self.baseline[name]]
        try:
            here = os.getcwd()
        except OSError:  # the case removed its own working directory
            here = None
        if here is None or os.path.realpath(here) != os.path.realpath(cwd):
            out.append("cwd changed")
        env = dict(os.environ)
        if env != self.environ:
            names = sorted(n for n in set(env) | set(self.environ)
                           if env.get(n) != self.environ.get(n) and n not in _OWN_VARIABLES)
            if names:
                out.append("environment variables " + ", ".join(names[:5]) + (" ..." if len(names) > 5 else ""))
        return out


def scrub(text: Optional[str], paths: Dict[str, str]) -> Optional[str]:
    """``text`` with each path of ``paths`` (path -> placeholder, longest
    first) replaced: an item's temporary working directory changes every run
    and must not reach results or fingerprints."""
    if not text:
        return text
    for path, placeholder in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        if path:
            text = text.replace(path, placeholder)
    return text
