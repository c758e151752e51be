"""What a name may be: environment labels, case ids, item ids, variants and modes; links.

One rule each, used where a name is declared (the matrix, the case API) and
where it is read back from a file (results, snapshots, bisections, speed
tables).  Names read from files are data: a label becomes a file name
(``<snapshots>/<label>.json``, ``upgrade-<A>-<B>.html``) and every name
becomes text in reports, so a name that breaks its rule is refused where it is
read, never cleaned up on the way.

- A **label** names one environment of the matrix: ``tf2.16``, ``tf2.21-legacy``,
  ``nightly``.
- A **case id**, as a corpus declares it: lowercase letters, digits and dashes.
- An **item id** is what results record in an outcome's ``case``: a case id, or a
  test's pytest node id (``tests/test_x.py::TestA::test_b[1-2]``).  Any printable
  text without control characters, not an absolute path and without a ``..``
  path segment, at most :data:`MAX_ITEM_ID` characters.
- A **variant** or **mode** is a word of lowercase letters, digits and dashes,
  so that ``case/variant/mode`` (a snapshot's key) splits at its last two ``/``.
- A **link** (a case's ``url``) is https, or there is none: reports publish it.

Each ``*_problem`` function returns None for a good name, else what is wrong
with it, in words that fit after "Expected ...".  Standard library only: the
engine imports it.
"""

from __future__ import annotations

import re
from typing import Any, Optional

LABEL_RE = re.compile(r"tf\d+\.\d+(-[a-z]+)?|nightly")
CASE_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*")
WORD_RE = CASE_ID_RE
MAX_ITEM_ID = 1000
_DRIVE_RE = re.compile(r"[A-Za-z]:[\\/]")


def shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def label_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not an environment label (``tf2.16``, ``tf2.21-legacy``, ``nightly``)."""
    if isinstance(value, str) and LABEL_RE.fullmatch(value):
        return None
    return f"an environment label like 'tf2.16', 'tf2.21-legacy' or 'nightly'. Received: {shown(value)}"


def case_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a case id as a corpus declares it (``python-if-on-tensor``)."""
    if isinstance(value, str) and CASE_ID_RE.fullmatch(value):
        return None
    return f"a case id of lowercase letters, digits and dashes. Received: id={shown(value)}"


def item_id_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not an item id: a case id or a pytest node id, read back from a file."""
    what = "a case id or a test's node id"
    if not isinstance(value, str) or not value:
        return f"{what} (text). Received: {shown(value)}"
    if len(value) > MAX_ITEM_ID:
        return f"{what} of at most {MAX_ITEM_ID} characters. Received: {len(value)} characters"
    if not value.isprintable() or value != value.strip():
        return f"{what} of printable characters, no control characters. Received: {shown(value)}"
    if value.startswith(("/", "\\")) or _DRIVE_RE.match(value):
        return f"{what}, not an absolute path. Received: {shown(value)}"
    if ".." in re.split(r"[/\\]", value):
        return f"{what} without a '..' path segment. Received: {shown(value)}"
    return None


def word_problem(value: Any, what: str) -> Optional[str]:
    """Why ``value`` is not a variant or mode name (``broken``, ``graph-noautograph``)."""
    if isinstance(value, str) and WORD_RE.fullmatch(value):
        return None
    return f"a {what} of lowercase letters, digits and dashes. Received: {shown(value)}"


def url_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a link to show (a case's ``url``): https only, no spaces or
    control characters; ``""`` and None (no link) are fine."""
    if value is None or value == "":
        return None
    if (isinstance(value, str) and value.startswith("https://") and len(value) <= 2000
            and value.isprintable() and not any(ch.isspace() for ch in value)):
        return None
    return f"an https:// link (or none). Received: {shown(value)}"
