"""Normalize error messages and fingerprint errors.

Two runs of the same failure should give the same fingerprint, on any machine;
two different failures should not.  :func:`normalize` strips what changes from
run to run but means nothing (memory addresses, absolute paths, auto-numbered
layer and tensor names, ANSI colour codes, ``{{function_node ...}}`` graph
node names) and keeps what carries meaning (shapes, dtypes, numbers).

The rules are versioned: results record ``NORMALIZER_VERSION``; the raw message
is always kept, so fingerprints can be recomputed when the rules change.

Standard library only: the probe runs this inside each TensorFlow environment.
"""

from __future__ import annotations

import hashlib
import re
from typing import List, Pattern, Tuple

NORMALIZER_VERSION = 1

_RULES: List[Tuple[Pattern[str], str]] = [
    # ANSI escape sequences (Keras 3 colours some messages).
    (re.compile(r"\x1b\[[0-9;]*[A-Za-z]"), ""),
    # Graph function node names: {{function_node __inference_f_123}}.
    (re.compile(r"\{\{function_node [^}]*\}\}"), "{{function_node}}"),
    (re.compile(r"\{\{node [^}]*\}\}"), "{{node}}"),
    # Traced function names carry a unique id: __inference_call_1234.
    (re.compile(r"\b(__inference|__forward|__backward)_([A-Za-z_]\w*?)_\d+\b"), r"\1_\2_N"),
    # Memory addresses.
    (re.compile(r"\b0x[0-9a-fA-F]{4,}\b"), "0x?"),
    # Absolute paths (POSIX and Windows), keeping the file name.
    (re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.+@~-]+)+[\\/]([\w.+-]+\.\w+)"), r"<path>/\1"),
    (re.compile(r"(?:/tmp|/var|/private)[\w./-]*"), "<tmp>"),
    # Auto-numbered names: dense_7, input_11, keras_tensor_36, tf.__operators__.add_3,
    # "conditional_layer_2". A trailing _<digits> on an identifier.
    (re.compile(r"\b([A-Za-z][A-Za-z0-9]*(?:_[A-Za-z][A-Za-z0-9]*)*)_\d+\b"), r"\1_N"),
    # Tensor names in graphs: "Placeholder:0", "dense/MatMul:0" keep output index only.
    # Timings and PIDs that some messages embed.
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|us|µs)\b"), "<time>"),
    # Runs of whitespace.
    (re.compile(r"[ \t]+"), " "),
    (re.compile(r"\n\s*\n+"), "\n"),
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
