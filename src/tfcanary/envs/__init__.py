"""Environments: build them, keep them, and start the engine in them.

- :mod:`.install`: one environment per matrix entry, installed with uv and reused
  while its requirements are unchanged; the user's own packages (``--with``).
- :mod:`.cache`: the environments ``tfcanary run`` keeps (``tfcanary envs``).
- :mod:`.index`: which versions of a package exist on the index, and when.
- :mod:`.launch`: **the one launcher**, the only code that starts the engine
  (:mod:`tfcanary._engine`) in an environment.  nox, ``tfcanary run``, bisect,
  the timer, asv and the nightly all go through it.
- :mod:`.runner`: probe (and time) a corpus in chosen environments: the pipeline
  of ``tfcanary run`` and of the noxfile's environment sessions.
- :mod:`.asv`: asv's configuration and install command, from the matrix.

Standard library only (the noxfile and asv's bare environments import it);
the runner imports the reports lazily.
"""
