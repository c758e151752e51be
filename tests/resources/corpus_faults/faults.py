"""Cases that kill or hang the process running them, and one that is fine."""
import ctypes
import time

import numpy as np

from tfcanary.case import Built, layer_case, script_case

segfault = script_case("fault-segfault", family="faults", doc="Reads address 0.")


@segfault.broken
def _(tf, keras):
    ctypes.string_at(0)


hang = script_case("fault-hang", family="faults", doc="Never returns.")


@hang.broken
def _(tf, keras):
    time.sleep(3600)


abort = script_case("fault-abort", family="faults", doc="Calls abort().")


@abort.broken
def _(tf, keras):
    import os

    os.abort()


after = layer_case("fault-after", family="faults", doc="Runs after the faults: must still be probed.")


@after.broken
def _(tf, keras):
    return Built(keras.layers.Dense(2), x=np.ones((2, 3), "float32"))


wrong = layer_case("fault-wrong-return", family="faults", doc="Returns a tuple instead of Built.")


@wrong.broken
def _(tf, keras):
    return (keras.layers.Dense(2), np.ones((2, 3), "float32"))
