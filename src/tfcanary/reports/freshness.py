"""How old are the newest results? A silently dead nightly should be noticed.

    python -m tfcanary check --max-age 2      # exit 2, with the date, when results are older

:func:`newest` reads the probe date (``metadata.date``) of every results file
in the given folders; :func:`require_fresh` turns an old or missing date into a
:class:`UserError`; :func:`add_banner` writes the date at the top of asv's
generated dashboards (at publish time: asv's HTML itself is not ours).

Standard library only: the nightly steps import it.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import os
from pathlib import Path
from typing import Iterable, Optional, Union

from .. import results
from ..errors import UsageError, UserError

BANNER_ID = "tfcanary-freshness"
PathLike = Union[str, os.PathLike]


def _files(paths: Union[PathLike, Iterable[PathLike]]) -> list:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found = []
    for p in map(Path, paths):
        found += sorted(p.glob("*.json")) if p.is_dir() else ([p] if p.is_file() else [])
    return found


def newest(paths: Union[PathLike, Iterable[PathLike]]) -> Optional[_dt.datetime]:
    """The newest probe date (UTC) among the results files in ``paths``; None when there is none."""
    dates = []
    for f in _files(paths):
        try:
            doc = results.read(f)
        except results.ResultsError:
            continue                      # not a results file (summary, speed table)
        stamp = (doc.get("metadata") or {}).get("date")
        if stamp:
            d = _dt.datetime.fromisoformat(str(stamp))
            dates.append(d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc))
    return max(dates).astimezone(_dt.timezone.utc) if dates else None


def require_fresh(paths: Union[PathLike, Iterable[PathLike]], max_age_days: float,
                  now: Optional[_dt.datetime] = None) -> str:
    """A line saying how fresh the results are; :class:`UserError` when older than ``max_age_days``."""
    if not (max_age_days > 0 and math.isfinite(max_age_days)):   # nan compares false: refuse it
        raise UsageError(f"Expected --max-age DAYS, a number above 0. Received: {max_age_days}.")
    now = now or _dt.datetime.now(_dt.timezone.utc)
    shown = " ".join(str(p) for p in ([paths] if isinstance(paths, (str, os.PathLike)) else paths))
    found = newest(paths)
    if found is None:
        raise UserError(f"Expected results with a probe date in {shown}. Received: none. "
                        "Has the nightly run?")
    age = (now - found).total_seconds() / 86400
    if age > max_age_days:
        raise UserError(f"Expected results newer than {max_age_days:g} days. Received: the newest "
                        f"results in {shown} are from {found:%Y-%m-%d %H:%M} UTC, {age:.1f} days old. "
                        "Is the nightly still running? (see its workflow runs)")
    return f"newest results: {found:%Y-%m-%d %H:%M} UTC ({age:.1f} days old, limit {max_age_days:g})"


def add_banner(html_dir: PathLike, results_dir: PathLike) -> str:
    """Put the newest results' date at the top of asv's ``index.html``; also ``freshness.json``."""
    found = newest(results_dir)
    text = (f"Newest results: {found:%Y-%m-%d %H:%M} UTC" if found else "No results with a date")
    index = Path(html_dir) / "index.html"
    if index.is_file():
        page = index.read_text(encoding="utf-8")
        div = (f'<div id="{BANNER_ID}" style="padding:4px 12px;background:#fff3cd;'
               f'font:14px sans-serif">{html.escape(text)} &middot; '
               f'<a href="reports/index.html">version matrix</a></div>')
        if BANNER_ID not in page and "<body>" in page:
            page = page.replace("<body>", "<body>\n" + div, 1)
            results.write_text_atomic(index, page)
    results.write_text_atomic(Path(html_dir) / "freshness.json", json.dumps(
        {"newest_results": found.isoformat() if found else None}) + "\n")
    return text
