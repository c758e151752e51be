"""Plain ``python -m pytest`` in an environment, read back per test node id: what tfcanary's
record of the same suite is compared with.

Its JUnit XML (xunit1: file and line per test case) gives the status; the exception class is
read from the failure's text, which pytest ends with ``path:line: ExceptionClass`` (a
collection error: the ``E   ExceptionClass: ...`` line).
"""

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

_LOCATION = re.compile(r"^\S+:\d+: ([\w.]+)$", re.M)
_RAISED = re.compile(r"^E\s+([\w.]+(?:Error|Exception|Exit|Interrupt|Warning|Failed)):", re.M)


def _nodeid(case: ET.Element) -> str:
    file, classname, name = case.get("file") or "", case.get("classname") or "", case.get("name") or ""
    module = file[:-3].replace("/", ".") if file.endswith(".py") else ""
    if not classname and name == module:      # a module that did not collect
        return file
    rest = classname[len(module):].lstrip(".") if module and classname.startswith(module) else ""
    return "::".join(p for p in (file, rest.replace(".", "::"), name) if p)


def _exc(text: str) -> str:
    found = _LOCATION.findall(text or "")
    if found:
        return found[-1].rsplit(".", 1)[-1]
    raised = _RAISED.findall(text or "")
    return raised[-1].rsplit(".", 1)[-1] if raised else ""


def run(python, cwd: Path, args, env=None, timeout=1800):
    """{node id: (status, short exception class)} of plain pytest; status as tfcanary records
    it: ``ok`` (passed, xpassed), ``error`` (failed, errored, xfailed), ``skip``.  Also the
    completed process.  ``--continue-on-collection-errors``: tfcanary runs the rest of a suite
    when a module does not collect, where plain pytest would stop before running anything."""
    junit = Path(cwd) / ".plain-junit.xml"
    proc = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
                           "--continue-on-collection-errors",
                           f"--junitxml={junit}", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        nodeid = _nodeid(case)
        problems = [e for e in case if e.tag in ("failure", "error")]
        skipped = case.find("skipped")
        if problems:
            found[nodeid] = ("error", _exc(problems[0].text or problems[0].get("message") or ""))
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            found[nodeid] = ("error", "xfail")
        elif skipped is not None:
            found[nodeid] = ("skip", "")
        else:
            found[nodeid] = ("ok", "")
    junit.unlink()
    return found, proc


def recorded(doc) -> dict:
    """tfcanary's results in the same shape: {node id: (status, short exception class)}; an
    xfailed test's class reads ``xfail`` as plain pytest's JUnit XML gives no class for it."""
    out = {}
    for o in doc["outcomes"]:
        if o.get("variant") != "test":
            continue
        short = (o.get("exc_type") or "").rsplit(".", 1)[-1]
        if o.get("xfail") and o["status"] == "error":
            short = "xfail"
        out[o["case"]] = (o["status"], short if o["status"] == "error" else "")
    return out
