"""The version matrix as a user sees it: loaded in real headless Chromium from file://.

Chromium runs the page's own JavaScript; ``--dump-dom`` gives the DOM after it
ran.  Filters are set through the page's URL fragment (``#variant=fixed&
changes=1``), which the page applies through the same code as its controls.
Skipped, with the reason, where Chromium is not installed
(Debian: ``apt-get install -y chromium``).
"""

import re
import shutil
import subprocess

import pytest

from tfcanary import report

from test_report import N_LINES as N_ROWS, parse_rows, write_results

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    return report.write_matrix([write_results(tmp / "results")], tmp / "reports")


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
