"""The progress line: items done / total, the current one, the time; on a terminal or in a log."""

import io

from tfcanary._engine.progress import Progress


class _Sup:
    def __init__(self, items):
        self.items, self.n = items, len(items)


def test_a_log_gets_plain_lines_for_crashes_and_a_closing_line(monkeypatch):
    out = io.StringIO()
    p = Progress(_Sup([["t.py::a", "test", "pytest"], ["case-x", "broken", "eager"]]), "items", stream=out, tty=False)
    p("start", 0, None)
    p("outcome", 0, {"status": "crash"})
    p("start", 1, None)
    p("outcome", 1, {"status": "ok"})
    p.finish()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[0/2 items, 0:00] t.py::a")          # a test by its node id
    assert any(l.startswith("[1/2 items, 0:00] crash: t.py::a") for l in lines)
    assert lines[-1] == "[2/2 items, 0:00] done"
    assert "\r" not in out.getvalue()


def test_a_terminal_gets_one_line_updated_in_place():
    out = io.StringIO()
    p = Progress(_Sup([["case-x", "broken", "eager"]] * 3), "items", stream=out, tty=True)
    for i in range(3):
        p("start", i, None)
        p("outcome", i, {"status": "ok"})
    p.finish()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("[3/3 items, 0:00] done\n")
    assert "\r[2/3 items, 0:00] case-x/broken/eager" in text


def test_disabled_progress_writes_nothing():
    out = io.StringIO()
    p = Progress(_Sup([["a", "b", "c"]]), enabled=False, stream=out, tty=False)
    p("start", 0, None)
    p.finish()
    assert out.getvalue() == ""
