import pytest

from tfcanary import matrix


def test_default_matrix_is_the_documented_one():
    assert [e.label for e in matrix.default()] == [
        "tf2.12", "tf2.15", "tf2.16", "tf2.21", "tf2.21-legacy"]


def test_full_matrix_covers_every_minor_and_nightly():
    labels = {e.label for e in matrix.full()}
    for minor in range(12, 22):
        assert f"tf2.{minor}" in labels
    for minor in range(16, 21):
        assert f"tf2.{minor}-latest" in labels
    assert {"tf2.21-released", "tf2.21-legacy", "nightly"} <= labels


def test_tf216_is_keras3_as_released_and_installs_before_the_next_day():
    e = matrix.get("tf2.16")
    assert e.flavour == "keras3" and e.kind == "released"
    assert e.exclude_newer == "2024-03-10"
    assert e.requirements() == ["tensorflow-cpu==2.16.*"]


def test_gpu_is_one_switch():
    e = matrix.get("tf2.21")
    assert e.requirements(gpu=True) == ["tensorflow[and-cuda]==2.21.*"]
    assert matrix.get("nightly").requirements(gpu=True)[0] == "tf-nightly[and-cuda]"


def test_legacy_sets_tf_use_legacy_keras_and_installs_tf_keras():
    e = matrix.get("tf2.21-legacy")
    assert dict(e.env) == {"TF_USE_LEGACY_KERAS": "1"}
    assert "tf-keras==2.21.*" in e.requirements()


def test_nightly_pins_are_exact(tmp_path):
    pins = tmp_path / "nightly-pins.txt"
    pins.write_text("# pinned by the nightly job\ntf-nightly==2.23.0.dev20261026\nkeras-nightly==3.16.0.dev2026102704\n")
    reqs = matrix.get("nightly").requirements(pins=matrix.read_pins(pins))
    assert reqs == ["tf-nightly==2.23.0.dev20261026", "keras-nightly==3.16.0.dev2026102704"]


def test_a_bad_pins_line_names_file_and_line(tmp_path):
    pins = tmp_path / "nightly-pins.txt"
    pins.write_text("tf-nightly==1\nkeras-nightly>=3\n")
    with pytest.raises(matrix.MatrixError, match=r"nightly-pins.txt:2: expected 'package==version'"):
        matrix.read_pins(pins)


def test_unknown_label_says_what_was_expected_and_suggests():
    with pytest.raises(matrix.MatrixError, match=r"Received: '216'\. Did you mean 'tf2.16'\?"):
        matrix.get("216")


def test_order_is_version_order():
    assert matrix.order(["tf2.21", "nightly", "tf2.12", "tf2.16"]) == ["tf2.12", "tf2.16", "tf2.21", "nightly"]


def test_order_sorts_items_by_their_label():
    docs = [{"label": "nightly"}, {"label": "tf2.16"}, {"label": "custom"}, {"label": "tf2.12"}]
    ordered = matrix.order(docs, key=lambda d: d["label"])
    assert [d["label"] for d in ordered] == ["tf2.12", "tf2.16", "nightly", "custom"]
