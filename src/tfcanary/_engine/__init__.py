"""The engine: everything that runs inside a TensorFlow environment.

This folder is the boundary.  Its modules run with an environment's own
interpreter, started by :func:`tfcanary.envs.launch.launch` through one script
(:mod:`tfcanary._engine.main`), from a private copy of the engine that holds
tfcanary's engine-side modules alone, so nothing from the host's site-packages
(pandas, the host's numpy) reaches the environment.

Rules, checked by ``tests/test_layout.py``:

- standard library only, plus the environment's TensorFlow where a step needs
  it (imported inside functions, never at module level);
- from tfcanary itself, only :data:`tfcanary.envs.launch.ENGINE_MODULES`: the
  case API, the corpus loader, names, outcomes, fingerprints, results files and errors;
- nothing here imports a host module (reports, envs, bisect, nightly, cli).

The stages: :mod:`.probe` (plan, supervise, write results) and :mod:`.timer`
(eager vs graph vs XLA) are the entry points; :mod:`.supervise` runs workers
and turns a crash or a hang into an outcome; :mod:`.worker` is the workers'
side of that protocol; :mod:`.modes` drives one (case, variant, mode) through
TensorFlow; :mod:`.hermetic` resets global state between items;
:mod:`.metadata` records what the environment is; :mod:`.timing` holds the
timer's statistics.
"""
