"""What a label, a case id, an item id, a variant or mode, and a link may be: one rule each."""

import pytest

from tfcanary import matrix, names
from tfcanary.case import CaseDefinitionError, layer_case


@pytest.mark.parametrize("label", [e.label for e in matrix.full()] + ["tf3.0", "tf2.22-latest"])
def test_every_matrix_label_is_a_label(label):
    assert names.label_problem(label) is None


@pytest.mark.parametrize("label", ["tf2.15\n", "../../escape/pwned", "/../../../tmp/x", "tf2.15/x", "",
                                   "TF2.15", "tf2.15 ", "nightly\n", None, 215, "tf2.15-Latest"])
def test_a_label_is_matched_whole(label):
    assert names.label_problem(label).startswith("an environment label like 'tf2.16'")


def test_a_case_id_with_a_trailing_newline_is_refused_where_it_is_declared():
    assert names.case_id_problem("python-if-on-tensor") is None
    assert names.case_id_problem("python-if\n") is not None
    with pytest.raises(CaseDefinitionError, match=r"Received: id='trailing\\n'"):
        layer_case("trailing\n", family="f")


@pytest.mark.parametrize("node", [
    "python-if-on-tensor",
    "tests/test_layers.py::test_projection",
    "tests/test_layers.py::TestSwish::test_call[float32-2]",
    "tests/test_x.py::test_paths[a/b..c]",
    "test_x.py::test[x|y`z<b>]",
])
def test_an_item_id_is_a_case_id_or_a_pytest_node_id(node):
    assert names.item_id_problem(node) is None


@pytest.mark.parametrize("bad, why", [
    ("", "text"), (None, "text"), (7, "text"),
    ("/etc/passwd", "absolute path"), ("\\\\server\\share", "absolute path"), ("C:\\x", "absolute path"),
    ("../x", "'..' path segment"), ("tests/../../x.py::t", "'..' path segment"), ("a\\..\\b", "'..' path segment"),
    ("a\nb", "printable"), ("a\x00b", "printable"), ("a\x1b[31mb", "printable"), (" a", "printable"),
    ("x" * (names.MAX_ITEM_ID + 1), "at most"),
])
def test_an_item_id_refuses_paths_out_and_control_characters(bad, why):
    assert why in names.item_id_problem(bad)


def test_variants_and_modes_are_words_so_a_snapshot_key_splits_at_its_last_two_slashes():
    assert names.word_problem("graph-noautograph", "mode") is None
    for bad in ("a/b", "Broken", "", "x y", None):
        assert names.word_problem(bad, "mode") is not None


@pytest.mark.parametrize("url", ["", None, "https://github.com/keras-team/keras/issues/1"])
def test_links_are_https_or_none(url):
    assert names.url_problem(url) is None


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://x.org", "JAVASCRIPT:alert(1)", "data:text/html,x",
                                 "https://x.org/a b", "https://x.org/\n", "//evil.org", 5])
def test_other_links_are_refused(url):
    assert names.url_problem(url) is not None
