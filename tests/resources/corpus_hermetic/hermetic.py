"""Cases that try to reach each other through global state, the working directory and seeds.

The leaker is declared first, so in plan order it runs right before the victim.
"""
import os
import random
import tempfile

import numpy as np

from tfcanary.case import Built, layer_case, script_case

leak = script_case("leak-mixed-precision", family="hermetic",
                   doc="Sets the mixed_float16 policy and does not restore it.")


@leak.broken
def _(tf, keras):
    keras.mixed_precision.set_global_policy("mixed_float16")


victim = layer_case("victim-float32-constant", family="hermetic",
                    doc="Adds a float32 constant to its input: under mixed_float16 the input is "
                        "float16 and the addition fails.")


@victim.broken
def _(tf, keras):
    class AddConstant(keras.layers.Layer):
        def call(self, inputs):
            return inputs + tf.constant([1.0, 2.0, 3.0], dtype="float32")

    return Built(AddConstant(), x=np.ones((2, 3), "float32"), skip={
        m: "one mode is enough here" for m in ("graph", "graph-noautograph", "xla", "symbolic", "fit", "saved")})


leak_more = script_case("leak-floatx-eager-cwd", family="hermetic",
                        doc="Leaves floatx float64, run_functions_eagerly on, and another working directory.")


@leak_more.broken
def _(tf, keras):
    keras.backend.set_floatx("float64")
    tf.config.run_functions_eagerly(True)
    os.chdir(tempfile.gettempdir())


def _check_cwd_is_fresh():
    cwd = os.path.realpath(os.getcwd())
    if not os.path.basename(cwd).startswith("tfcanary-"):
        raise AssertionError("the working directory is not a tfcanary- folder")
    if not cwd.startswith(os.path.realpath(tempfile.gettempdir()) + os.sep):
        raise AssertionError("the working directory is not in the temporary folder")
    if os.listdir("."):
        raise AssertionError(f"the working directory is not empty: {sorted(os.listdir('.'))}")


writer = script_case("cwd-writer", family="hermetic",
                     doc="Writes a file into its working directory, then deletes everything there.")


@writer.broken
def _(tf, keras):
    _check_cwd_is_fresh()
    with open("note.txt", "w") as f:
        f.write("left behind")
    for name in os.listdir("."):
        os.remove(name)
    with open("note.txt", "w") as f:  # and leaves one behind
        f.write("left behind")


reader = script_case("cwd-reader", family="hermetic",
                     doc="Must find an empty working directory: no file of another case.")


@reader.broken
def _(tf, keras):
    _check_cwd_is_fresh()


missing = script_case("cwd-in-message", family="hermetic",
                      doc="Fails with its working directory's absolute path in the message.")


@missing.broken
def _(tf, keras):
    open(os.path.join(os.getcwd(), "missing.txt"))


draws = script_case("seeded-draws", family="hermetic",
                    doc="Fails with random numbers in the message: stable only if every item is seeded.")


@draws.broken
def _(tf, keras):
    init = keras.initializers.GlorotUniform()
    raise ValueError(f"draws {random.random():.6f} {np.random.rand():.6f} "
                     f"{float(tf.random.uniform(())):.6f} {float(init((1,))[0]):.6f}")


for _exc in (KeyboardInterrupt, GeneratorExit, SystemExit):
    def _make(exc):
        c = script_case(f"raises-{exc.__name__.lower()}", family="hermetic",
                        doc=f"Raises {exc.__name__}, a BaseException.")

        @c.broken
        def _(tf, keras):
            raise exc("raised by the case")

    _make(_exc)
