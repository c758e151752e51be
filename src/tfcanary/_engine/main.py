"""The engine's one entry script, run by path with an environment's interpreter.

    <python> <engine>/tfcanary/_engine/main.py probe --cases cases --label tf2.15 --out r.json
    <python> <engine>/tfcanary/_engine/main.py time --cases cases --label tf2.15 --out s.json
    <python> <engine>/tfcanary/_engine/main.py suite --pytest tests --label tf2.15 --out r.json

Every engine process starts here, the workers too (``probe-worker``,
``time-worker``, ``suite-worker``) and the corpus scan's child (``corpus-scan``, also
on the host: :func:`tfcanary.corpus.scan`), so the bootstrap below is written once.  Callers never build
this command themselves: :func:`tfcanary.envs.launch.command` does.
"""

import os
import sys


def _bootstrap() -> None:
    """Make ``tfcanary`` importable from the folder that holds it, and nothing else.

    Run by path, ``sys.path[0]`` is this script's folder, which would make the
    engine's modules importable under bare names (a user's ``import timing``
    would get ours): it is replaced by the folder above ``tfcanary``.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        sys.path[0] = root
    elif root not in sys.path:
        sys.path.insert(0, root)


INTERNAL_ERROR = 3   # as the CLI's: a bug of tfcanary's, with its traceback

# tool -> (module under tfcanary._engine, function taking argv and returning an exit status)
TOOLS = {
    "probe": ("probe", "main"),
    "probe-worker": ("worker", "probe_worker_main"),
    "time": ("timer", "main"),
    "time-worker": ("timer", "worker_main"),
    "suite": ("suite", "main"),
    "suite-worker": ("suite_worker", "worker_main"),
    "corpus-scan": ("scan", "main"),
}


def main(argv: list) -> int:
    if not argv or argv[0] not in TOOLS:
        print(f"usage: main.py {{{','.join(TOOLS)}}} [options]", file=sys.stderr)
        return 2
    import importlib

    module, function = TOOLS[argv[0]]
    try:
        return getattr(importlib.import_module(f"tfcanary._engine.{module}"), function)(argv[1:])
    except Exception:  # noqa: BLE001 -- the tools handle what the user can fix; this is our bug
        import traceback

        traceback.print_exc()
        print(f"tfcanary {argv[0]}: internal error (exit {INTERNAL_ERROR}): this is a bug in tfcanary, "
              "not in your input; please report it with the traceback above.", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    _bootstrap()
    sys.exit(main(sys.argv[1:]))
