"""The version matrix as a user sees it: loaded in real headless Chromium from file://.

Chromium runs the page's own JavaScript; ``--dump-dom`` gives the DOM after it
ran.  Filters are set through the page's URL fragment (``#variant=fixed&
changes=1``), which the page applies through the same code as its controls.
Skipped, with the reason, where Chromium is not installed
(Debian: ``apt-get install -y chromium``).
"""

import shutil
import subprocess

import pytest

from tfcanary.reports import version_matrix

from test_report import N_LINES as N_ROWS, outcome, parse_rows, write_results

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    return version_matrix.write([write_results(tmp / "results")], tmp / "reports")


def dom(url, tmp_path):
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'data-ready="1"' in proc.stdout, "the page's script did not run to the end"
    return proc.stdout


def visible(html):
    return [r for r in parse_rows(html) if "hidden" not in r]


def test_matrix_renders_every_row(page, tmp_path):
    html = dom(page.as_uri(), tmp_path)
    assert len(parse_rows(html)) == N_ROWS
    assert len(visible(html)) == N_ROWS
    assert f"{N_ROWS} of {N_ROWS} rows" in html


def test_filters_hide_the_other_rows(page, tmp_path):
    html = dom(page.as_uri() + "#variant=broken&changes=1", tmp_path)
    rows = visible(html)
    # alpha broken (class changed) and beta broken (message changed) change from tf2.15 to tf2.21.
    assert [(r["data-case"], r["data-variant"]) for r in rows] == [("alpha", "broken"), ("beta", "broken")]
    assert f"2 of {N_ROWS} rows" in html

    html = dom(page.as_uri() + "#family=dtypes&variant=broken", tmp_path)
    assert sorted(r["data-case"] for r in visible(html)) == ["beta", "gamma"]


# --- layout at 1400 x 900, driven over the DevTools protocol (tests/_chromium.py) -------------

def wide_results(folder, n_envs=18, n_cases=60):
    """Generated results (not observations): many environments and cases, long ids and
    messages, to check the layout at full-matrix scale."""
    labels = [f"tf2.{12 + i}" for i in range(n_envs - 1)] + ["tf2.21-legacy"]
    cases = [{"id": f"case-with-a-rather-long-identifier-{i:03d}", "family": f"family-{i % 6}",
              "kind": "layer", "source": "S", "claim": None, "tags": [], "doc": "", "file": "c.py",
              "line": i, "variants": ["broken", "fixed"]} for i in range(n_cases)]
    outcomes = {}
    for j, label in enumerate(labels):
        rows = []
        for i, c in enumerate(cases):
            for v in ("broken", "fixed"):
                for m in ("eager", "graph", "graph-noautograph", "xla", "symbolic", "fit", "saved"):
                    if v == "broken" and (i + j) % 3 == 0:
                        rows.append(outcome(c["id"], v, m, "error", "builtins.ValueError",
                                            f"a long message {'x' * 200} in {label}"))
                    else:
                        rows.append(outcome(c["id"], v, m, "ok"))
        outcomes[label] = rows
    return write_results(folder, outcomes, cases)


@pytest.fixture(scope="module")
def browser():
    from _chromium import Browser

    with Browser(1400, 900) as b:
        yield b


@pytest.fixture(scope="module")
def wide_page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wide")
    return version_matrix.write([wide_results(tmp / "results")], tmp / "reports")


def test_full_matrix_needs_no_horizontal_scrolling_at_1400_wide(browser, wide_page):
    browser.open(wide_page.as_uri())
    assert browser.js("document.body.dataset.ready") == "1"
    assert browser.js("document.querySelectorAll('#matrix thead th.e').length") == 18
    assert browser.js("document.documentElement.scrollWidth - window.innerWidth") <= 0
    # ...and the case column is still readable, not squeezed.
    assert browser.js("document.querySelector('#matrix tbody th.k').getBoundingClientRect().width") >= 150


def test_header_stays_visible_above_the_rows_after_scrolling(browser, wide_page):
    browser.open(wide_page.as_uri())
    browser.js("window.scrollTo(0, 3000)")
    browser.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    top = browser.js("document.querySelector('#matrix thead tr.envs th.e').getBoundingClientRect().top")
    bar = browser.js("(() => { const r = document.querySelector('#matrix thead tr.bar')"
                     ".getBoundingClientRect(); return {top: r.top, bottom: r.bottom}; })()")
    assert 0 <= top < 200
    assert bar["bottom"] <= top + 1   # the filter bar sits above the names, not over them
    # The element at the header's place is the header, not a row scrolled under it.
    hit = browser.js("(() => { const r = document.querySelector('#matrix thead tr.envs th.e')"
                     ".getBoundingClientRect(); return document.elementFromPoint(r.left + 5, r.top + 5)"
                     ".closest('thead') !== null; })()")
    assert hit


def test_a_click_on_a_cell_shows_every_mode_with_its_message(browser, page):
    browser.open(page.as_uri())
    browser.js("document.querySelector('#matrix tr[data-case=\"alpha\"][data-variant=\"broken\"] td.c.H').click()")
    detail = browser.js("document.querySelector('#matrix tr.detail') && "
                        "document.querySelector('#matrix tr.detail').innerText")
    assert detail is not None
    assert "eager" in detail and "graph" in detail and "TypeError" in detail
    assert "a BAD THING in graph" in detail
    assert "status or class changed from tf2.15" in detail
    browser.js("document.querySelector('#matrix tr.detail button.close').click()")
    assert browser.js("document.querySelector('#matrix tr.detail')") is None


def test_an_empty_filtered_view_says_why(browser, page):
    browser.open("about:blank")   # a change of fragment alone would not load the page again
    browser.open(page.as_uri() + "#variant=fixed&changes=1")
    assert browser.js("document.querySelectorAll('#matrix tr[data-r]:not([hidden])').length") == 0
    text = browser.js("document.getElementById('empty').hidden ? '' : "
                      "document.getElementById('empty').innerText")
    assert text.startswith("No row changes across these environments with variant fixed")
