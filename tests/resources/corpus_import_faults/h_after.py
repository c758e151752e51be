"""Loads after every fault above."""
from tfcanary.case import script_case

after = script_case("after-the-faults", family="import-faults", doc="Listed although modules before it misbehaved.")


@after.broken
def _(tf, keras):
    pass
