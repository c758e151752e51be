"""The nightly's alert: one GitHub issue while outcomes differ from the snapshots.

    tfcanary nightly alert --reports reports            # via the gh CLI ($GH_TOKEN)
    tfcanary nightly alert --reports reports --dry-run  # print the decision only

:func:`read_check` reads what the check wrote (``check.xml``: transitions are
its failures; ``check.md``: the issue's text) and the bisection Markdown when
there is one (``reports/bisect/*.md``: the check session copies it there).  :func:`decide` is the whole policy,
without the network, given the open alert issues:

=================  ==============  ==================================================
check              open issue      action
=================  ==============  ==================================================
transitions        none            **open** one
transitions        one (or more)   **update** the oldest's text; comment only when the
                                   set of transitions changed (so watchers hear of it)
clean              one (or more)   **close** them, with a comment
clean              none            **nothing**
did not run        any             **nothing** (the failed run says why)
=================  ==============  ==================================================

An alert issue carries the label ``tfcanary-nightly`` and a marker line with a
digest of its transitions, so the same transitions next night update the open
issue instead of opening a second one (the model is scientific-python's
"issue from pytest log" action).  :func:`apply` runs the decision with ``gh``.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ..errors import UsageError, UserError
from ..results import read_text

LABEL = "tfcanary-nightly"
MARKER = "<!-- tfcanary-nightly-alert digest={} -->"
_MARKER_RE = re.compile(r"<!-- tfcanary-nightly-alert digest=([0-9a-f]*) -->")
TITLE = "Nightly: {n} outcome transitions against the snapshots"
BODY_LIMIT = 60000          # GitHub refuses issue bodies over 65536 characters


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """What the night's check found: ``ran`` is False when it wrote no JUnit file."""

    ran: bool
    transitions: Tuple[str, ...] = ()      # "env case/variant/mode: change", sorted
    markdown: str = ""
    bisect: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.transitions).encode()).hexdigest()[:16]

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, object]) -> "CheckOutcome":
        return cls(bool(d["ran"]), tuple(d.get("transitions") or ()),  # type: ignore[arg-type]
                   str(d.get("markdown") or ""), str(d.get("bisect") or ""))


@dataclasses.dataclass(frozen=True)
class Action:
    kind: str                              # open | update | close | nothing
    reason: str
    issues: Tuple[int, ...] = ()
    title: str = ""
    body: str = ""
    comment: str = ""

    def to_dict(self) -> Dict[str, object]:
        return dataclasses.asdict(self)


def read_check(reports: Path) -> CheckOutcome:
    """The check's JUnit (failures = transitions) and Markdown, and any bisection Markdown."""
    xml = reports / "check.xml"
    if not xml.is_file():
        return CheckOutcome(ran=False)
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        raise UserError(f"Expected the check's JUnit XML. Received: {xml} ({exc}).") from None
    found = []
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            failure = case.find("failure")
            if failure is not None:
                found.append(f"{suite.get('name')} {case.get('name')}: {failure.get('type')}")
    md = reports / "check.md"
    bisect = "\n\n".join(read_text(p, "bisection summary") for p in sorted((reports / "bisect").glob("*.md")))
    return CheckOutcome(True, tuple(sorted(found)),
                        read_text(md, "check summary") if md.is_file() else "", bisect)


def body(outcome: CheckOutcome, run_url: str = "") -> str:
    """The issue text: marker, the check's Markdown, the bisection, a link to the run."""
    parts = [MARKER.format(outcome.digest), outcome.markdown.strip()]
    if outcome.bisect.strip():
        parts += ["## Bisection", outcome.bisect.strip()]
    tail = (f"\n\nRun: {run_url}" if run_url else "") + (
        "\n\nThis issue is updated by the nightly workflow and closed by the first clean night.")
    text = "\n\n".join(parts)
    if len(text) + len(tail) > BODY_LIMIT:
        cut = BODY_LIMIT - len(tail) - 200
        text = text[:cut] + f"\n\n... (cut at {cut} characters: the full summary is in the run)"
    return text + tail


def decide(outcome: CheckOutcome, open_issues: Sequence[Dict[str, object]], run_url: str = "") -> Action:
    """open / update / close / nothing, given the open alert issues (``number``, ``body``)."""
    issues = sorted(open_issues, key=lambda i: int(i["number"]))   # type: ignore[arg-type]
    numbers = tuple(int(i["number"]) for i in issues)              # type: ignore[arg-type]
    if not outcome.ran:
        return Action("nothing", "the check wrote no report: the failed run says why", numbers)
    if outcome.transitions:
        title = TITLE.format(n=len(outcome.transitions))
        text = body(outcome, run_url)
        if not issues:
            return Action("open", f"{len(outcome.transitions)} transitions, no open alert", (),
                          title, text)
        m = _MARKER_RE.search(str(issues[0].get("body") or ""))
        same = bool(m) and m.group(1) == outcome.digest
        comment = "" if same else (f"The transitions changed: now {len(outcome.transitions)}."
                                   + (f" Run: {run_url}" if run_url else ""))
        return Action("update", "same transitions as the open alert" if same
                      else "the transitions changed", numbers[:1], title, text, comment)
    if issues:
        return Action("close", "a clean night", numbers, comment="A clean night: no transitions"
                      + (f" ({run_url})." if run_url else "."))
    return Action("nothing", "a clean night, no open alert")


# --- gh -----------------------------------------------------------------------------------

def _gh(gh: str, *args: str) -> str:
    try:
        proc = subprocess.run([gh, *args], capture_output=True, text=True)
    except OSError as exc:   # not installed, not executable
        raise UsageError(f"Expected the GitHub CLI at {gh!r} (install gh, or set TFCANARY_GH). "
                         f"Received: {exc.strerror or exc}. Nothing was changed on GitHub; "
                         "`--dry-run` prints the decision without it.") from None
    if proc.returncode != 0:
        raise UserError(f"gh {' '.join(args[:2])} failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
    return proc.stdout


def open_alerts(gh: str = "gh") -> List[Dict[str, object]]:
    out = _gh(gh, "issue", "list", "--state", "open", "--label", LABEL, "--limit", "50",
              "--json", "number,title,body")
    return [i for i in json.loads(out or "[]") if _MARKER_RE.search(str(i.get("body") or ""))]


def apply(action: Action, gh: str = "gh") -> None:
    """Carry out ``action`` on GitHub with the gh CLI (it reads $GH_TOKEN and $GH_REPO)."""
    if action.kind in ("open", "update"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "body.md"
            path.write_text(action.body, encoding="utf-8")
            if action.kind == "open":
                _gh(gh, "label", "create", LABEL, "--force", "--color", "d93f0b",
                    "--description", "outcome transitions found by the nightly check")
                _gh(gh, "issue", "create", "--title", action.title, "--label", LABEL, "--body-file", str(path))
            else:
                _gh(gh, "issue", "edit", str(action.issues[0]), "--title", action.title,
                    "--body-file", str(path))
                if action.comment:
                    _gh(gh, "issue", "comment", str(action.issues[0]), "--body", action.comment)
    elif action.kind == "close":
        for n in action.issues:
            _gh(gh, "issue", "close", str(n), "--comment", action.comment)


def _run_url() -> str:
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""


def run(reports: Path, dry_run: bool = False, run_url: Optional[str] = None,
        gh: Optional[str] = None) -> int:
    """Read the check, list the open alerts (unless ``dry_run``), decide, apply; print the action."""
    gh = gh or os.environ.get("TFCANARY_GH", "gh")
    outcome = read_check(reports)
    issues = [] if dry_run else open_alerts(gh)
    action = decide(outcome, issues, run_url if run_url is not None else _run_url())
    issues_text = "".join(f" #{n}" for n in action.issues)
    print(f"alert: {action.kind}{issues_text} ({action.reason})")
    if not dry_run:
        apply(action, gh)
    return 0
