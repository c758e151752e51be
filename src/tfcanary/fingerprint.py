"""Normalize error messages and fingerprint errors.

Two runs of the same failure should give the same fingerprint, on any machine;
two different failures should not.  :func:`normalize` strips what changes from
run to run but means nothing (memory addresses, absolute paths, auto-numbered
layer and tensor names, ANSI colour codes, ``{{function_node ...}}`` graph
node names, traceback line numbers, randomly initialised weight values) and
keeps what carries meaning (shapes, dtypes, numbers in the text, op types,
file names, exception wording).

The rules are versioned: results record ``NORMALIZER_VERSION``; the raw message
is always kept, so fingerprints can be recomputed when the rules change.  Any
change to :data:`_RULES` that changes the output for some message must bump
``NORMALIZER_VERSION``.

The rules were checked against real messages from TF 2.15/Keras 2.15,
TF 2.16/Keras 3.0 and TF 2.21/Keras 3.15 (``tests/resources/messages``).

Standard library only, Python 3.9+: the probe runs this inside each
TensorFlow environment.
"""

from __future__ import annotations

import hashlib
import re
from typing import Callable, List, Tuple, Union

NORMALIZER_VERSION = 3

_Repl = Union[str, Callable[[re.Match[str]], str]]

# Characters that may not come right before an absolute path.  A path must
# start a "word": this keeps relative graph names (``dense_4/kernel``,
# ``Reshape/shape``), URLs (``https://github.com/...``), device strings
# (``/job:localhost/replica:0``) and already-replaced ``<site-packages>/...``
# out of the path rules.
_NOT_BEFORE_PATH = r"(?<![\w.:/\\<>~-])"
_SEG = r"[\w.+@~-]+"  # one path component (no spaces, colons or quotes)
# Where a path starts: the root of an absolute path (POSIX or Windows), or one of the
# placeholders that results files put for the user's own folders when they are written
# (``./`` the working directory, ``~/`` the home folder, ``$TFCANARY_CACHE/``; since
# version 3): a message normalizes the same before and after.
_ROOT = r"(?:(?:[A-Za-z]:)?[\\/]|(?:\.|~|\$TFCANARY_CACHE)[\\/])"


def _path_repl(m: re.Match[str]) -> str:
    # Keep the file name when it looks like one (``collect.py``,
    # ``model.weights.h5``): it tells which file failed and does not depend on
    # where the environment lives.  Directories become a bare ``<path>``.
    last = m.group("last")
    if "." in last.strip("."):
        return "<path>/" + last
    return "<path>"


# Digit runs after an underscore on identifier-like tokens that are NOT auto
# numbering: CUDA architectures (sm_80, compute_90).
_KEEP_NUMBERED = re.compile(r"(?:sm|compute)_\d+")
_NUMBER_SUFFIX = re.compile(r"(?<=[A-Za-z0-9])_\d+(?=_|$)")


def _strip_auto_numbers(m: re.Match[str]) -> str:
    token = m.group(0)
    if _KEEP_NUMBERED.fullmatch(token):
        return token
    # "cuda_12.3"-style versions: the digits continue after a dot.
    following = m.string[m.end() : m.end() + 2]
    if len(following) == 2 and following[0] == "." and following[1].isdigit():
        return token
    return _NUMBER_SUFFIX.sub("", token)


# Ordered: each rule sees the output of the ones above it.
_RULES: List[Tuple[re.Pattern[str], _Repl]] = [
    # 1. Line endings: the same message captured on Windows.
    (re.compile(r"\r\n?"), "\n"),
    # 2. ANSI escape sequences.  Keras 3 wraps the inner message of
    #    "Exception encountered when calling X.call()" in \x1b[1m ... \x1b[0m;
    #    whether it does depends on the terminal, not on the error.
    (re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]"), ""),
    # 3. Values of tf.Variable reprs.  Keras 3 embeds the whole variable
    #    (``<tf.Variable 'conv2d/kernel:0' shape=(3, 3, 3, 2) dtype=float32,
    #    numpy=array([[...random init...]])>``) in some errors; the values are
    #    random per run.  Name, shape and dtype stay.
    (re.compile(r"(<tf\.Variable\b[^>]*?),\s*numpy=[^>]*>"), r"\1>"),
    # 4. Eager/graph function node names.  They carry unique ids, op attributes
    #    and the device (``{{function_node __wrapped__Split_num_split_2_device_
    #    /job:localhost/replica:0/task:0/device:CPU:0}}``) - the last one differs
    #    between a CPU and a GPU machine for the same error.
    (re.compile(r"\{\{function_node [^}]*\}\}"), "{{function_node}}"),
    # 5. Graph node names (``[[{{node model/dense_1/MatMul}}]]``): scoped by
    #    the enclosing model/function names, which depend on what ran before.
    #    The op type is still in the rest of the message.
    (re.compile(r"\{\{node [^}]*\}\}"), "{{node}}"),
    # 6. Memory addresses in object reprs (``<function f.<locals>.<lambda> at
    #    0x7fc331ae84a0>``, ``<__main__.Foo object at 0x...>``).  Six or more
    #    hex digits, so a short literal like 0xff (a value) stays.
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x?"),
    # 7. Line numbers in traceback frames embedded in messages (autograph's
    #    "in user code:" and "Detected at node ... defined at").  Library line
    #    numbers change between patch releases (training.py line 1401 in one
    #    Keras, another in the next) and user line numbers change with edits;
    #    neither changes what the error is.  File and function names stay.
    # TensorFlow embeds the Python stack where a graph node was defined
    # ("Detected at node X defined at (most recent call last):" then File lines).
    # Those frames belong to whoever called the model (the probe, Keras's own
    # train_function vs multi_step_on_iterator), not to the error: keep the
    # node, drop the frames.
    (re.compile(r"(defined at \(most recent call last\):)\n(?:[ \t]*File \"[^\n]*\n(?:[ \t]*\n|[ \t]{4,}[^\n]*\n)*)+"),
     r"\1\n"),
    (re.compile(r'(File "[^"\n]*", line )\d+'), r"\1N"),
    # AutoGraph writes converted code to a temporary module with a random name
    # (__autograph_generated_filekmw1d_lq.py), and graph reprs carry Python
    # object ids (FuncGraph(name=call, id=139967886104544)): both differ in
    # every process.
    (re.compile(r"__autograph_generated_file\w+\.py"), "__autograph_generated_file.py"),
    (re.compile(r"\bid=\d{6,}\b"), "id=?"),
    # Keras 3's deserialization errors print the config they could not load,
    # whose ``'shared_object_id': 140218723401232`` is the Python id() of the
    # object when it was saved (since version 2).
    (re.compile(r"""(['"]shared_object_id['"]:\s*)\d+"""), r"\1?"),
    # 8. Installed-package paths: keep the import path below site-packages
    #    (``keras/src/engine/training.py`` says which module failed and is the
    #    same on every machine); drop the environment prefix, which also holds
    #    the Python version (``/tmp/exp/tf221/lib/python3.11/site-packages/``).
    (
        re.compile(
            _NOT_BEFORE_PATH
            + _ROOT + r"(?:" + _SEG + r"[\\/])*?(?:site|dist)-packages[\\/]"
        ),
        "<site-packages>/",
    ),
    # 8b. Library and probe frames in tracebacks that messages embed
    #    (AutoGraph's "in user code:" block): a frame inside an installed
    #    package, or inside tfcanary's own engine (_engine/modes.py, and the
    #    _worker.py and _timer.py of earlier versions), with the source line
    #    under it.  Where a library raises from moves when it is refactored
    #    (keras/utils/ became keras/src/utils/) and the engine's lines are not
    #    the user's; the message and the user's own frames stay.  A frame
    #    printed without its source line (TensorFlow's "defined here:" lists)
    #    takes nothing else with it (since version 3: before, it took the
    #    next frame's line, so the user's frames kept depended on how many
    #    library and engine frames came before them).
    (
        re.compile(
            r'^[ \t]*File "(?:<site-packages>/|(?:[^"\n]*[\\/])?(?:_(?:worker|timer)\.py|_engine[\\/]))'
            r'[^"\n]*", line (?:\d+|N), in [^\n]*\n(?:[ \t]+(?![ \t]|File ")[^\n]*\n)?',
            re.M,
        ),
        "",
    ),
    # 9. Any other absolute path of two or more components (POSIX or Windows):
    #    user scripts, temporary directories (``/tmp/tmpk2j3/model.keras``),
    #    home directories.  Keeps the file name, see _path_repl.  A single
    #    component (``/tmp``) is left alone: it does not vary between runs.
    (
        re.compile(
            _NOT_BEFORE_PATH
            + r"(?:(?:[A-Za-z]:)?[\\/](?:" + _SEG + r"[\\/])+|(?:\.|~|\$TFCANARY_CACHE)[\\/](?:" + _SEG
            + r"[\\/])*)(?P<last>" + _SEG + r")"
        ),
        _path_repl,
    ),
    # 10. Auto-numbered names: Keras uniquifies names per process (dense,
    #     dense_1, dense_7; input_11; keras_tensor_36; conditional_layer_2;
    #     tf.__operators__.add_3; input_layer_10; sequential_2_1/dense_8_1),
    #     TF uniquifies graph names (Placeholder_1, assert_equal_1) and traced
    #     functions (__inference_train_function_816).  Dropping every
    #     "_<digits>" group after a letter or digit inside an identifier maps
    #     the first name (``dense``) and later ones (``dense_1``) to the same
    #     text.  Not touched: numbers that are not glued to an identifier by an
    #     underscore (shapes, "value 5", float32, int8, conv2d, ``:0`` output
    #     indices), tokens that start with a digit (1_000), CUDA architectures
    #     (sm_80) and versions (cuda_12.3).  Cost: two explicitly named layers
    #     "block_1"/"block_2" read the same; the raw message keeps them.
    (re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*"), _strip_auto_numbers),
    # (The draft also replaced "<n> ms" with <time>: dropped.  No real message
    # needed it, and a duration in an error is usually a configured timeout,
    # which is meaningful.)
    # 11. Whitespace: indentation and blank lines vary with how the message
    #     was assembled, not with the error.
    (re.compile(r"[ \t]+"), " "),
    (re.compile(r" ?\n ?"), "\n"),
    (re.compile(r"\n{2,}"), "\n"),
]


def normalize(message: str) -> str:
    """Return ``message`` with run-to-run noise replaced by placeholders."""
    out = message or ""
    for pattern, repl in _RULES:
        out = pattern.sub(repl, out)
    return out.strip()


def fingerprint(exc_type: str, normalized: str) -> str:
    """A stable 12-hex-digit hash of (exception class, normalized message)."""
    h = hashlib.sha256()
    h.update(f"v{NORMALIZER_VERSION}\0{exc_type}\0{normalized}".encode("utf-8"))
    return h.hexdigest()[:12]
