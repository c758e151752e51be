"""A module that loads: its case must survive every module after it."""
from tfcanary.case import script_case

good = script_case("still-listed", family="import-faults", doc="Loads; the others must not take it down.")


@good.broken
def _(tf, keras):
    raise ValueError("broken")
