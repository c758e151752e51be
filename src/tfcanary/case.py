"""The case API: how a scenario of the corpus is written.

A case module in ``cases/`` declares cases and gives each one a ``broken``
variant (the code people write) and, where there is one, a ``fixed`` variant
(the documented repair)::

    from tfcanary.case import Built, Claim, layer_case

    python_if = layer_case(
        "python-if-on-tensor",
        family="control-flow",
        source=SEED_TYPESPEC,
        claim=Claim("TypeError", "Could not build a TypeSpec for KerasTensor"),
    )

    @python_if.broken
    def _(tf, keras):
        class ConditionalLayer(keras.layers.Layer):
            ...
        return Built(ConditionalLayer(), x=np.ones((4, 3), "float32"))

Variant functions receive the ``tf`` and ``keras`` modules of the environment
they run in (``keras`` is ``tf.keras``: Keras 2, Keras 3 or tf-keras), so one
case runs on every version.  A *layer case* returns a :class:`Built`; the probe
drives its layer through every mode.  A *script case* runs as a whole: it
returns nothing and fails by raising.

This module depends on the standard library only: it is imported inside each
TensorFlow environment by the probe.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .names import case_id_problem, url_problem

VARIANTS = ("broken", "fixed")
LAYER_MODES = ("eager", "graph", "graph-noautograph", "xla", "symbolic", "fit", "saved")
SCRIPT_MODES = ("script",)
MODES = LAYER_MODES + SCRIPT_MODES

# How close a case is to the report it comes from: the report's own code (at most
# data or sizes changed), trimmed or made self-contained, or written from the
# description and the message.
FIDELITIES = ("verbatim", "adapted", "reconstructed")


class CaseDefinitionError(Exception):
    """A case is declared wrongly. Carries the file and line of the declaration."""

    def __init__(self, message: str, file: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Claim:
    """What the source says the broken variant raises.

    ``error`` is the exception class name the source names (``"TypeError"``,
    ``"InvalidArgumentError"``) or ``None`` when the source claims no error;
    ``message`` a fragment of the claimed message, matched case-insensitively;
    ``where`` when the source says it happens, in its words; ``versions`` the
    TensorFlow/Keras versions the source reports it on, in its words
    (``"TF 2.15, Keras 2.15"``).
    """

    error: Optional[str]
    message: str = ""
    where: str = ""
    versions: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Optional[Dict[str, Any]]) -> Optional["Claim"]:
        return None if d is None else cls(**d)

    def matches(self, exc_type: Optional[str], message: Optional[str]) -> bool:
        """True when an observed error is the one claimed.

        The class matches on its short name (``tensorflow.python.framework.
        errors_impl.InvalidArgumentError`` matches ``InvalidArgumentError``);
        the message fragment, when given, must occur in the raw message.
        """
        if self.error is None or exc_type is None:
            return False
        if exc_type.rsplit(".", 1)[-1] != self.error.rsplit(".", 1)[-1]:
            return False
        return self.message.lower() in (message or "").lower()


@dataclasses.dataclass
class Built:
    """What a layer case's variant returns.

    layer:          a Keras layer or model, freshly built for each mode.
    x:              one input batch (a NumPy array); the probe passes it as a
                    tensor unless ``numpy_input`` is set.
    y:              the target for ``fit``; zeros shaped like the output if None.
    numpy_input:    call the layer on the NumPy array itself in eager/graph modes.
    deterministic:  ``saved`` compares outputs only when True (shapes otherwise).
    custom_objects: classes ``load_model`` needs beyond the layer's own class.
    skip:           mode -> reason, for modes that do not apply to this case.
    """

    layer: Any
    x: Any
    y: Any = None
    numpy_input: bool = False
    deterministic: bool = True
    custom_objects: Optional[Dict[str, Any]] = None
    skip: Dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.skip) - set(LAYER_MODES)
        if unknown:
            raise TypeError(
                f"Built.skip names unknown modes {sorted(unknown)}. "
                f"Expected some of {list(LAYER_MODES)}."
            )


Variant = Callable[[Any, Any], Any]


@dataclasses.dataclass
class Case:
    """One scenario: an id, its family, its variants, its source and claim."""

    id: str
    family: str
    kind: str
    source: str
    claim: Optional[Claim]
    tags: Tuple[str, ...]
    doc: str
    file: str
    line: int
    url: str = ""
    fidelity: str = ""
    variants: Dict[str, Variant] = dataclasses.field(default_factory=dict)

    @property
    def modes(self) -> Tuple[str, ...]:
        return LAYER_MODES if self.kind == "layer" else SCRIPT_MODES

    def _variant(self, name: str) -> Callable[[Variant], Variant]:
        def register(fn: Variant) -> Variant:
            if name in self.variants:
                code = fn.__code__
                raise CaseDefinitionError(
                    f"case {self.id!r} defines its {name!r} variant twice",
                    code.co_filename,
                    code.co_firstlineno,
                )
            self.variants[name] = fn
            return fn

        return register

    @property
    def broken(self) -> Callable[[Variant], Variant]:
        """Decorator: the code people write, which fails somewhere (or is claimed to)."""
        return self._variant("broken")

    @property
    def fixed(self) -> Callable[[Variant], Variant]:
        """Decorator: the documented repair."""
        return self._variant("fixed")

    def variant_location(self, name: str) -> Tuple[str, int]:
        code = self.variants[name].__code__
        return code.co_filename, code.co_firstlineno

    def describe(self) -> Dict[str, Any]:
        """The case's metadata, as written into results files."""
        return {
            "id": self.id,
            "family": self.family,
            "kind": self.kind,
            "source": self.source,
            "url": self.url,
            "fidelity": self.fidelity,
            "claim": None if self.claim is None else self.claim.to_dict(),
            "tags": list(self.tags),
            "doc": self.doc,
            "file": display_path(self.file),
            "line": self.line,
            "variants": [v for v in VARIANTS if v in self.variants],
        }


# Folders of the corpora loaded so far (the folder given, or a given file's
# folder): case files are recorded relative to the one that holds them.
_ROOTS: List[str] = []


def display_path(path: str) -> str:
    """``path`` as results record it: relative to the corpus folder that holds it
    (``control_flow.py``, ``sub/x.py``), so that results never carry absolute
    paths of the user's machine and stay comparable across checkouts.  A path
    outside every loaded corpus is made relative to the working directory when
    inside it, else reduced to its file name."""
    real = os.path.realpath(path)
    best = None
    for root in _ROOTS:
        if real == root or real.startswith(root + os.sep):
            if best is None or len(root) > len(best):
                best = root
    if best is not None:
        return os.path.relpath(real, best).replace(os.sep, "/")
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return os.path.basename(path)
    return os.path.basename(path) if rel.startswith("..") or os.path.isabs(rel) else rel.replace(os.sep, "/")


def register_roots(paths: Iterable["os.PathLike[str]"]) -> None:
    """Record the folders of corpora being loaded (see :func:`display_path`)."""
    for p in map(Path, paths):
        root = os.path.realpath(p if p.is_dir() else p.parent)
        if root not in _ROOTS:
            _ROOTS.append(root)


# The loader (tfcanary.corpus) sets this list while it imports a case module;
# declarations append to it.  Outside a load, declarations are kept here too so
# that a case module can be imported and inspected on its own.
_collector: List[Case] = []


def _declare(kind: str, id: str, family: str, source: str, claim: Optional[Claim],
             tags: Tuple[str, ...], doc: str, url: str = "", fidelity: str = "") -> Case:
    frame = sys._getframe(2)
    file, line = frame.f_code.co_filename, frame.f_lineno
    problem = case_id_problem(id)
    if problem:
        raise CaseDefinitionError(f"Expected {problem}", file, line)
    if not family or not isinstance(family, str):
        raise CaseDefinitionError(f"case {id!r} needs a family. Received: family={family!r}",
                                  file, line)
    if claim is not None and not isinstance(claim, Claim):
        raise CaseDefinitionError(
            f"case {id!r}: expected claim=Claim(...) or None. Received: {type(claim).__name__}",
            file, line)
    if url_problem(url):
        raise CaseDefinitionError(f"case {id!r}: expected url='https://...'. Received: url={url!r}",
                                  file, line)
    if fidelity and fidelity not in FIDELITIES:
        raise CaseDefinitionError(
            f"case {id!r}: expected fidelity to be one of {list(FIDELITIES)}. "
            f"Received: fidelity={fidelity!r}", file, line)
    case = Case(id=id, family=family, kind=kind, source=source or "", claim=claim,
                tags=tuple(tags), doc=doc.strip(), file=file, line=line,
                url=url or "", fidelity=fidelity or "")
    _collector.append(case)
    return case


def layer_case(id: str, *, family: str, source: str = "", claim: Optional[Claim] = None,
               tags: Tuple[str, ...] = (), doc: str = "", url: str = "",
               fidelity: str = "") -> Case:
    """Declare a layer case: its variants return :class:`Built`.

    ``url`` cites the source (https); ``fidelity`` says how close the case is to
    it: one of :data:`FIDELITIES`.
    """
    return _declare("layer", id, family, source, claim, tags, doc, url, fidelity)


def script_case(id: str, *, family: str, source: str = "", claim: Optional[Claim] = None,
                tags: Tuple[str, ...] = (), doc: str = "", url: str = "",
                fidelity: str = "") -> Case:
    """Declare a script case: its variants run as a whole and fail by raising."""
    return _declare("script", id, family, source, claim, tags, doc, url, fidelity)
