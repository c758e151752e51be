"""tfcanary: which errors each TensorFlow/Keras version raises for a corpus of
custom-layer cases, and how much faster graph execution is than eager.

Importing the package does no work: each public name loads its module on first
use, so the probe can import the case API inside a TensorFlow environment that
has none of the host's packages (pandas, jinja2).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Built": "case",
    "Case": "case",
    "Claim": "case",
    "layer_case": "case",
    "script_case": "case",
    "Corpus": "corpus",
    "CorpusError": "corpus",
    "load_corpus": ("corpus", "load"),
    "Outcome": "outcome",
    "Status": "outcome",
    "Entry": "matrix",
    "UserError": "errors",
    "load_outcomes": ("store", "load_outcomes"),
    "load_environments": ("store", "load_environments"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'tfcanary' has no attribute {name!r}")
    module, attr = (target, name) if isinstance(target, str) else target
    value = getattr(importlib.import_module(f"tfcanary.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
