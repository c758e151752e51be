"""The environment's package list does not depend on what ran before it was taken."""

import sys

from tfcanary._engine import metadata as _worker


def test_pip_freeze_reads_site_packages_not_sys_path(tmp_path, monkeypatch):
    # What importing TensorFlow does: setuptools puts its vendored packages on sys.path.
    dist = tmp_path / "vendored_thing-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vendored-thing\nVersion: 1.0\n")
    before = _worker.pip_freeze()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert _worker.pip_freeze() == before
    assert not any(line.startswith("vendored-thing==") for line in before)
    assert any(line.startswith("pandas==") for line in before)
