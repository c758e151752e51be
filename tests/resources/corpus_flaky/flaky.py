"""A deliberately nondeterministic case, for the bisection's nondeterminism check.

Its broken variant raises ValueError the first time it runs against a counter
file and TypeError every time after, so two probes of the same environment
disagree.  The counter file is named by $TFCANARY_FLAKY_COUNTER.
"""
import os

from tfcanary.case import script_case

flaky = script_case(
    "flaky-counter",
    family="tests",
    source="tests",
    claim=None,
    doc="Raises ValueError on its first run, TypeError after (a counter file).",
)


@flaky.broken
def _(tf, keras):
    path = os.environ["TFCANARY_FLAKY_COUNTER"]
    try:
        with open(path, encoding="utf-8") as f:
            n = int(f.read() or 0)
    except FileNotFoundError:
        n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(str(n + 1))
    if n == 0:
        raise ValueError("first run")
    raise TypeError("a later run")


@flaky.fixed
def _(tf, keras):
    return None
