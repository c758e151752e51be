"""Bisect: which release, or nightly build, first changed an outcome between two environments.

- :mod:`.run`: the pipeline of ``tfcanary bisect`` and its files
  (``<results>/bisect/<A>--<B>.json`` and ``.md``; :func:`tfcanary.bisect.run.first_changed`
  reads them back for the reports);
- :mod:`.path`: the endpoints and every version between them on the package index;
- :mod:`.workspace`: one environment per point, and the probe run in it;
- :mod:`.search`: the batch bisection itself, which knows nothing of packages.
"""
