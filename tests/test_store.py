import json

import pytest

from tfcanary import results, store
from tfcanary.outcome import Outcome, Status


def _write(dirpath, label, outcomes, **meta):
    results.write(dirpath / f"{label}.json", {
        "label": label, "status": "ok", "env": {"flavour": "keras3"},
        "metadata": {"tensorflow": meta.get("tf", "2.21.0"), "keras": "3.15.1", "python": "3.11.7"},
        "timing": {"import_s": 5.0, "probe_s": 40.0},
        "cases": [{"id": "c1", "family": "fam", "kind": "layer"}],
        "corpus_errors": [], "outcomes": [o.to_dict() for o in outcomes]})


def test_outcomes_load_with_named_columns_in_matrix_order(tmp_path):
    # Written in reverse version order on purpose: the loader must sort by the matrix.
    _write(tmp_path, "tf2.21", [Outcome("c1", "broken", "eager", Status.OK)])
    _write(tmp_path, "tf2.15", [Outcome("c1", "broken", "eager", Status.ERROR, exc_type="builtins.TypeError",
                                        message="m", normalized="m", fingerprint="abc")], tf="2.15.1")
    df = store.load_outcomes([tmp_path])
    assert list(df.columns) == store.OUTCOME_COLUMNS
    assert list(df["env"]) == ["tf2.15", "tf2.21"]
    assert df.iloc[0]["short_type"] == "TypeError" and df.iloc[0]["family"] == "fam"
    assert df.iloc[0]["tensorflow"] == "2.15.1"
    envs = store.load_environments([tmp_path])
    assert list(envs.columns) == store.ENV_COLUMNS
    assert list(envs["env"]) == ["tf2.15", "tf2.21"]
    assert envs.iloc[0]["probe_s"] == 40.0


def test_a_newer_results_file_is_refused_by_the_loader(tmp_path):
    _write(tmp_path, "tf2.15", [])
    doc = json.loads((tmp_path / "tf2.15.json").read_text())
    doc["schema"] = results.SCHEMA_VERSION + 1
    (tmp_path / "tf2.15.json").write_text(json.dumps(doc))
    with pytest.raises(results.ResultsError, match="newer tfcanary"):
        store.load_outcomes([tmp_path])


def test_an_outcome_with_an_unknown_field_is_refused():
    with pytest.raises(ValueError, match="Outcome has no fields"):
        Outcome.from_dict({"case": "c", "variant": "broken", "mode": "eager", "status": "ok", "colour": 1})


def test_two_files_for_one_environment_and_an_unreadable_file_are_named(tmp_path):
    from tfcanary import cli

    for d in ("a", "b"):
        results.write(tmp_path / d / "tf2.15.json", {"label": "tf2.15", "status": "ok", "env": {},
                                                      "install": {}, "metadata": {}, "cases": [],
                                                      "corpus_errors": [], "outcomes": []})
    (tmp_path / "b" / "tf2.21.json").write_text('{"schema": 1, "label": "tf2')
    with pytest.raises(results.ResultsError) as exc:
        store.read_all([tmp_path / "a", tmp_path / "b"])
    text = str(exc.value)
    assert str(tmp_path / "a" / "tf2.15.json") in text and str(tmp_path / "b" / "tf2.15.json") in text
    assert str(tmp_path / "b" / "tf2.21.json") in text and "invalid JSON" in text
    assert cli.main(["summary", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    (tmp_path / "empty").mkdir()
    assert cli.main(["summary", str(tmp_path / "empty")]) == 2
