"""The nightly CI: every step a ``tfcanary nightly <step>`` command (:mod:`.cli`).

- :mod:`.steps`: tonight's pins, the ``nightly`` branch, artifacts, publishing;
- :mod:`.jobs`: one environment, the reports, the check (and the policy the
  night follows: which pair it compares and bisects);
- :mod:`.alert`: the one alert issue, opened, updated and closed with ``gh``.
"""
