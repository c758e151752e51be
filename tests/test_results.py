import json

import pytest

from tfcanary import results


def _doc(**kw):
    d = {"label": "tf2.15", "status": "ok", "env": {}, "metadata": {}, "cases": [],
         "corpus_errors": [], "outcomes": []}
    d.update(kw)
    return d


def test_write_then_read_round_trips_with_schema(tmp_path):
    p = tmp_path / "r" / "tf2.15.json"
    results.write(p, _doc())
    doc = results.read(p)
    assert doc["schema"] == results.SCHEMA_VERSION
    assert doc["label"] == "tf2.15"
    assert [f.name for f in tmp_path.joinpath("r").iterdir()] == ["tf2.15.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "tf2.15.json"
    results.write(p, _doc())
    before = p.read_text()
    with pytest.raises(TypeError):
        results.write(p, _doc(outcomes=[object()]))  # not JSON-serializable
    assert p.read_text() == before
    assert [f.name for f in tmp_path.iterdir()] == ["tf2.15.json"]


def test_unknown_status_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Expected status one of"):
        results.write(tmp_path / "x.json", _doc(status="fine"))


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    p = tmp_path / "new.json"
    p.write_text(json.dumps({"schema": results.SCHEMA_VERSION + 1, "label": "x"}))
    with pytest.raises(results.ResultsError, match="newer tfcanary .*Upgrade tfcanary"):
        results.read(p)


def test_invalid_json_names_the_file_and_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"schema": 1,\n oops}')
    with pytest.raises(results.ResultsError, match=r"bad.json: not a results file \(invalid JSON at line 2"):
        results.read(p)


def test_find_refuses_a_missing_path(tmp_path):
    with pytest.raises(results.ResultsError, match="no such results file"):
        results.find([tmp_path / "nope"])


def test_written_files_get_the_usual_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    p = tmp_path / "tf2.15.json"
    results.write(p, _doc())
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask
