"""One case that hangs after writing its process id to $TFCANARY_TEST_PIDFILE."""
import os
import time

from tfcanary.case import script_case

hang = script_case("hang-forever", family="faults", doc="Announces its pid, then never returns.")


@hang.broken
def _(tf, keras):
    with open(os.environ["TFCANARY_TEST_PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
    while True:
        time.sleep(0.1)
