"""An id with a trailing newline."""
from tfcanary.case import script_case

newline = script_case("trailing-newline\n", family="import-faults")
