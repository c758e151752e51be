"""The reports, each a module of its own over one shared toolkit.

- :mod:`.version_matrix`: ``reports/index.html``, one row per (case, variant),
  one column per environment;
- :mod:`.upgrade`: the upgrade-risk report A → B (HTML and Markdown);
- :mod:`.check`: the regression check against snapshots (exit status, JUnit,
  Markdown) and the snapshots themselves;
- :mod:`.summary`: the text summary per environment;
- :mod:`.speed`: speed results, their table, chart and comparison;
- :mod:`.freshness`: how old the newest results are;
- :mod:`.toolkit`: what they share (loading, claims, templates, filters).

The host side: pandas and jinja2 are imported by the functions that need them.
"""
