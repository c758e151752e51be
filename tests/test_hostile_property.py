"""Property: whatever the results, snapshot, bisection and speed files say, the commands keep the contract.

Hypothesis starts from valid files (test_report.write_results, a snapshot, a bisection, a
speedups table), then mutates them field by field (a hostile value, a field removed, a key
added), truncates them, gives them bytes that are not UTF-8 or a document of the wrong type,
or fills their free text with hostile strings (path segments, HTML, ``</script>``, Markdown,
control characters, very long).  Then ``summary``, ``report``, ``upgrade``, ``check`` and
``check --update`` run on them, in-process through ``tfcanary.cli.main``, and:

- each exits 0, 1 or 2, never with a traceback;
- nothing outside the folders named on the command line is created or changed (the whole
  temporary root is compared before and after);
- the HTML holds no input unescaped and links to nothing but https, fragments and relative
  files; every Markdown table row keeps its header's number of cells.

The files are made by hand to exercise the readers; they are not observations of TensorFlow.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tfcanary import cli
from tfcanary.reports import check

from conftest import ROOT
from test_hostile_input import table_rows_keep_their_columns, tree
from test_report import write_results

MARK = "<xss-probe"          # every hostile HTML string carries it: it may never reach the HTML raw
HOSTILE = [
    "../../escape/pwned", "/../../../tmp/pwned", "..", "../", "C:\\x", "\\\\server\\share", "tf2.15\n",
    "nightly", "tf2.15", f"{MARK}>", f'"><{MARK[1:]} onerror=alert(1)>', f"</script><script>{MARK}>",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "https://example.org/ok",
    "| a | b |", "`", "``x``", "```", "\\|", "*_[x](javascript:alert(1))_*", "<!--", "]]>", "&amp;",
    "\x00", "\x1b[31mred", "a\u2028b", "\r\n| x | y |\r\n", "line\nbreak", "%s%n{0}", "${HOME}",
    "x" * 20_000, "é", "\U0001F600",
]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                 st.tuples(st.sampled_from(HOSTILE), st.text(max_size=8)).map("".join))
value = st.recursive(
    st.one_of(text, st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30),
              st.floats(allow_nan=True, allow_infinity=True)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=6)


def bisect_doc():
    return {"schema": 1, "kind": "bisect", "a": {"name": "tf2.15", "pins": {"keras": "2.15.0"}},
            "b": {"name": "tf2.21", "pins": {"keras": "3.5.0"}}, "path": [], "transitions": [
                {"case": "alpha", "variant": "broken", "mode": "graph", "state": "found",
                 "line": "alpha/broken/graph: first in keras 3.5.0", "first_changed": "keras 3.5.0 (3.4.1 before)"}]}


SPEEDUPS = ("env,case,ratio_graph,ratio_graph_lo,ratio_graph_hi,ratio_xla,ratio_xla_lo,ratio_xla_hi\n"
            "tf2.15,alpha,2.0,1.8,2.2,3.0,2.5,3.5\ntf2.21,alpha,1.0,0.9,1.1,,,\n")


def build(root: Path) -> dict:
    """The valid files: results (with a bisection), snapshots, speedups; their paths by kind."""
    res = write_results(root / "in" / "results")
    snaps = root / "in" / "snapshots"
    with contextlib.redirect_stdout(io.StringIO()):
        assert check.run([res], snaps, update_snapshots=True, echo=lambda s: None) == 0
    (res / "bisect").mkdir()
    (res / "bisect" / "tf2.15--tf2.21.json").write_text(json.dumps(bisect_doc()))
    (root / "in" / "speedups.csv").write_text(SPEEDUPS)
    return {"results": res / "tf2.21.json", "snapshot": snaps / "tf2.15.json",
            "bisect": res / "bisect" / "tf2.15--tf2.21.json", "speedups": root / "in" / "speedups.csv"}


def _paths(doc, prefix=()):
    """Every place in a JSON document: (keys...) to each dict value and list item."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutation(draw):
    """(kind of file, how to change its text): one change of one file."""
    target = draw(st.sampled_from(["results", "snapshot", "bisect", "speedups"]))
    how = draw(st.sampled_from(["set", "set", "set", "delete", "add-key", "truncate", "bytes", "top"]))
    if target == "speedups" and how in ("set", "delete", "add-key", "top"):
        row, col, cell = draw(st.integers(0, 2)), draw(st.integers(0, 7)), draw(text)
        return target, ("cell", row, col, cell)
    if how in ("set", "delete", "add-key"):
        return target, (how, draw(st.integers(0, 10**6)), draw(text), draw(value))
    if how == "truncate":
        return target, (how, draw(st.floats(0, 1)))
    if how == "bytes":
        return target, (how, draw(st.binary(min_size=1, max_size=40)), draw(st.integers(0, 10**6)))
    return target, (how, draw(value))


def apply(path: Path, change) -> None:
    raw = path.read_bytes()
    how = change[0]
    if how == "cell":
        _, row, col, cell = change
        try:
            lines = raw.decode().splitlines()
            cells = lines[row].split(",")
            cells[col] = cell
        except (UnicodeDecodeError, IndexError):   # an earlier change broke the table: keep it so
            return
        lines[row] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        return
    if how == "truncate":
        path.write_bytes(raw[: int(len(raw) * change[1])])
        return
    if how == "bytes":
        at = change[2] % (len(raw) + 1)
        path.write_bytes(raw[:at] + change[1] + raw[at:])
        return
    try:
        doc = json.loads(raw)
    except ValueError:   # an earlier change broke the document: keep it so
        return
    if how == "top":
        doc = change[1]
    else:
        _, pick, key, new = change
        places = _paths(doc)
        place = places[pick % len(places)]
        parent = doc
        for k in place[:-1]:
            parent = parent[k]
        if how == "set":
            if place:
                parent[place[-1]] = new
            else:
                doc = new
        elif how == "delete" and place:
            del parent[place[-1]]
        elif how == "add-key":
            node = parent[place[-1]] if place else doc
            if isinstance(node, dict):
                node[key] = new
    path.write_text(json.dumps(doc), encoding="utf-8", errors="surrogatepass")


@contextlib.contextmanager
def working_directory(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def commands(root: Path):
    """(arguments, folders each may write) for the five commands, in an order where check --update
    comes last."""
    res, out = root / "in" / "results", root / "out"
    speed = ["--speedups", str(root / "in" / "speedups.csv")]
    return [
        (["summary", str(res), "--write", str(out / "summary.txt")], [out]),
        (["report", str(res), "--out", str(out / "report"), *speed], [out]),
        (["upgrade", "tf2.15", "tf2.21", "--results", str(res), "--out", str(out / "upgrade"), *speed], [out]),
        (["check", "--results", str(res), "--snapshots", str(root / "in" / "snapshots"),
          "--junit", str(out / "check.xml"), "--markdown", str(out / "check.md")], [out]),
        (["check", "--results", str(res), "--snapshots", str(root / "in" / "snapshots"), "--update"],
         [root / "in" / "snapshots"]),
    ]


class Links(HTMLParser):
    """Every URL-valued attribute of a page, and any attribute that names a script scheme."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        for name, val in attrs:
            if name in ("href", "src", "action", "formaction", "xlink:href", "srcset", "poster"):
                self.urls.append((tag, name, val or ""))


def assert_safe_html(html: str) -> None:
    assert MARK not in html, "input reached the HTML unescaped"
    parser = Links()
    parser.feed(html)
    for tag, name, url in parser.urls:
        parts = urlsplit(url)
        ok = (url.startswith("#") or parts.scheme == "https"
              or (not parts.scheme and not url.startswith("//") and ":" not in url.split("/")[0]))
        assert ok, f"<{tag} {name}={url!r}>"


def run_all(root: Path) -> None:
    """Run the commands on what is under ``root/in`` and check the contract."""
    (root / "out").mkdir(exist_ok=True)
    with working_directory(root):
        for args, writable in commands(root):
            before = tree(root)
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                rc = cli.main(args)
            assert rc in (0, 1, 2), f"{args[0]} exited {rc}:\n{err.getvalue()[-3000:]}"
            assert "Traceback" not in err.getvalue(), err.getvalue()[-3000:]
            after = tree(root)
            inside = [str(w) + os.sep for w in writable]
            changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
            outside = sorted(p for p in changed if not any(p.startswith(w) for w in inside))
            assert outside == [], f"{args[0]} changed {outside}"
    for page in (root / "out").rglob("*.html"):
        assert_safe_html(page.read_text(encoding="utf-8"))
    for md in (root / "out").rglob("*.md"):
        table_rows_keep_their_columns(md.read_text(encoding="utf-8"))


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(mutation(), min_size=1, max_size=3))
@example([("snapshot", ("set", 4, "x", "../../escape/pwned"))])   # "from" as text: check --update broke on it
def test_mutated_files_keep_the_contract(changes):
    root = Path(tempfile.mkdtemp(prefix="tfcanary-hostile-"))
    try:
        files = build(root)
        for target, change in changes:
            apply(files[target], change)
        run_all(root)
    finally:
        shutil.rmtree(root)


FREE_TEXT = [("metadata", "tensorflow"), ("metadata", "keras"), ("metadata", "python"), ("message",)]
OUTCOME_TEXT = ["exc_type", "message", "frame", "reason", "normalized"]
CASE_TEXT = ["source", "doc", "family", "file"]
NODE_IDS = st.sampled_from(["tests/test_x.py::test[a|b]", "t.py::test[`x`]", f"t.py::test[{MARK}>]",
                            "t.py::T::test[</script>]", "alpha", "t.py::test[*_x_*]", "t.py::t[\\|]"])


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10**6), text), min_size=1, max_size=6), NODE_IDS)
def test_hostile_text_in_valid_files_is_escaped_everywhere_it_is_shown(edits, node):
    """Free text that the files may hold (versions, exception classes, messages, sources, a
    test's node id for a case id) is shown escaped: the commands succeed or find transitions."""
    root = Path(tempfile.mkdtemp(prefix="tfcanary-hostile-"))
    try:
        files = build(root)
        doc = json.loads(files["results"].read_text())
        for o in doc["outcomes"]:
            o["case"] = node if o["case"] == "alpha" else o["case"]
        doc["cases"][0]["id"] = node
        for pick, s in edits:
            where = pick % 3
            if where == 0:
                path = FREE_TEXT[pick % len(FREE_TEXT)]
                (doc[path[0]] if len(path) == 2 else doc)[path[-1]] = s
            elif where == 1:
                doc["outcomes"][pick % len(doc["outcomes"])][OUTCOME_TEXT[pick % len(OUTCOME_TEXT)]] = s
            else:
                doc["cases"][pick % len(doc["cases"])][CASE_TEXT[pick % len(CASE_TEXT)]] = s
        files["results"].write_text(json.dumps(doc), encoding="utf-8", errors="surrogatepass")
        run_all(root)
        if "\ud800" not in json.dumps(doc, ensure_ascii=False):
            assert (root / "out" / "report" / "index.html").exists()
    finally:
        shutil.rmtree(root)


def test_no_traceback_reaches_stderr_from_the_installed_command(tmp_path):
    """The same contract from a separate process, as CI runs it: a truncated file, one of the
    wrong type, one whose label climbs out of its folder."""
    for i, change in enumerate([("truncate", 0.5), ("top", [1, 2]), ("set", 1, "x", "../../escape")]):
        root = tmp_path / str(i)
        files = build(root)
        apply(files["results"], change)
        for args, _ in commands(root):
            proc = subprocess.run([sys.executable, "-m", "tfcanary", *args], cwd=root, capture_output=True,
                                  text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=120)
            assert proc.returncode in (0, 1, 2), proc.stderr
            assert "Traceback" not in proc.stderr, proc.stderr
        assert not (tmp_path.parent / "escape").exists()
