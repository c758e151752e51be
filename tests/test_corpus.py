import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfcanary import corpus
from tfcanary.errors import UsageError
from tfcanary.case import Built, Claim, CaseDefinitionError, layer_case

from conftest import RESOURCES, ROOT

SEEDS = ROOT.parent / "shared" / "seeds"


def test_bad_case_files_are_named_by_file_and_line_and_the_rest_load():
    c = corpus.load([RESOURCES / "corpus_bad"])
    assert [x.id for x in c.cases] == ["good-one"]
    errors = {Path(e.file).name: e for e in c.errors}
    assert errors["b_import_error.py"].line == 3
    assert "ModuleNotFoundError" in errors["b_import_error.py"].message
    assert errors["c_duplicate.py"].line == 3
    assert "duplicate case id 'good-one'" in errors["c_duplicate.py"].message
    assert "a_good.py:3" in errors["c_duplicate.py"].message
    assert errors["d_syntax.py"].line == 3 and "SyntaxError" in errors["d_syntax.py"].message
    assert "Received: id='Bad Id'" in errors["e_bad_id.py"].message
    assert "no broken variant" in errors["f_no_broken.py"].message
    assert len(c.errors) == 5


def test_corpus_error_renders_as_file_colon_line():
    err = corpus.CorpusError("cases/x.py", 7, "boom")
    assert str(err) == "cases/x.py:7: boom"


def test_the_corpus_loads_without_errors_and_has_enough_cases():
    c = corpus.load([ROOT / "cases"])
    assert c.errors == []
    assert len(c.cases) >= 24
    assert len({x.id for x in c.cases}) == len(c.cases)
    for case in c.cases:
        assert "broken" in case.variants
        assert case.doc, f"{case.id} has no doc"


def _seed_titles():
    titles = []
    for f in sorted(SEEDS.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        for line in text.splitlines():
            if line.startswith("title:"):
                titles.append(line.split(":", 1)[1].strip().strip('"'))
                break
        else:
            titles.append(None)
    return titles


@pytest.mark.skipif(not SEEDS.exists(), reason="the seed documents (../shared/seeds) are not beside this checkout")
def test_every_seed_document_is_the_source_of_some_case():
    sources = {c.source for c in corpus.load([ROOT / "cases"]).cases}
    for title in _seed_titles():
        if title is not None:
            assert title in sources, f"no case cites the seed {title!r}"


def test_select_matches_id_family_and_tag():
    c = corpus.load([ROOT / "cases"])
    by_family = c.select(["keras-tensor-tf-api"])
    assert by_family.cases and all(x.family == "keras-tensor-tf-api" for x in by_family.cases)
    assert [x.id for x in c.select(["python-if-on-tensor"]).cases] == ["python-if-on-tensor"]
    assert c.select(["no-such-*"]).cases == []


def test_claim_matching_uses_short_class_and_message_fragment():
    claim = Claim("InvalidArgumentError", "cannot compute AddV2")
    assert claim.matches("tensorflow.python.framework.errors_impl.InvalidArgumentError",
                         "cannot compute AddV2 as input #1 was expected to be a float tensor")
    assert not claim.matches("TypeError", "cannot compute AddV2")
    assert not claim.matches("tensorflow.python.framework.errors_impl.InvalidArgumentError", "other")
    assert not Claim(None).matches("TypeError", "x")


def test_built_rejects_unknown_skip_modes():
    with pytest.raises(TypeError, match="unknown modes"):
        Built(layer=None, x=None, skip={"graf": "typo"})


def test_a_variant_defined_twice_is_a_definition_error():
    case = layer_case("twice", family="t", doc="d")

    @case.broken
    def _(tf, keras):
        pass

    with pytest.raises(CaseDefinitionError, match="twice"):
        @case.broken
        def _(tf, keras):
            pass


def test_url_and_fidelity_are_checked_and_recorded():
    with pytest.raises(CaseDefinitionError, match=r"expected url='https://...'. Received: url='http://x'"):
        layer_case("bad-url", family="f", url="http://x")
    with pytest.raises(CaseDefinitionError, match=r"Received: fidelity='copied'"):
        layer_case("bad-fidelity", family="f", url="https://x", fidelity="copied")
    case = layer_case("cited", family="f", url="https://github.com/keras-team/keras/issues/1",
                      fidelity="adapted", claim=Claim("ValueError", versions="Keras 3.0.5"))
    d = case.describe()
    assert d["url"] == "https://github.com/keras-team/keras/issues/1"
    assert d["fidelity"] == "adapted"
    assert d["claim"]["versions"] == "Keras 3.0.5"
    assert Claim.from_dict({"error": "TypeError", "message": "", "where": ""}).versions == ""


IMPORT_FAULTS = RESOURCES / "corpus_import_faults"


@pytest.fixture(scope="module")
def scanned():
    return corpus.scan([IMPORT_FAULTS], timeout=3)


def test_modules_that_hang_exit_or_raise_a_base_exception_are_corpus_errors_and_the_rest_load(scanned):
    assert [c.id for c in scanned.cases] == ["still-listed", "after-the-faults"]
    errors = {e.file: e for e in scanned.errors}
    assert sorted(errors) == ["b_hangs.py", "c_exits.py", "d_interrupts.py", "e_base.py", "f_aborts.py",
                              "g_newline_id.py"]
    assert errors["b_hangs.py"].line == 5 and "did not finish importing within 3 s" in errors["b_hangs.py"].message
    assert "TFCANARY_IMPORT_TIMEOUT" in errors["b_hangs.py"].message
    assert errors["c_exits.py"].line == 4
    assert "ended the process at import (os._exit(0))" in errors["c_exits.py"].message
    assert errors["d_interrupts.py"].line == 3 and "KeyboardInterrupt: pressed by a case module" in errors["d_interrupts.py"].message
    assert errors["e_base.py"].line == 8 and "Stop: not an Exception" in errors["e_base.py"].message
    assert errors["f_aborts.py"].line == 4 and "signal SIGABRT" in errors["f_aborts.py"].message
    assert "Received: id='trailing-newline\\n'" in errors["g_newline_id.py"].message


def test_the_scan_records_which_modules_loaded_and_load_takes_only_those(scanned):
    # Only the modules that imported: the workers that run the cases import nothing else.
    assert [os.path.basename(m) for m in scanned.modules] == ["a_good.py", "h_after.py"]
    loaded = corpus.load([IMPORT_FAULTS], modules=scanned.modules)
    assert [c.id for c in loaded.cases] == ["still-listed", "after-the-faults"]
    assert [c.describe() for c in loaded.cases] == [c.describe() for c in scanned.cases]


def test_a_listed_case_cannot_be_run_from_the_listing(scanned):
    with pytest.raises(RuntimeError, match="listed by a separate process"):
        scanned.cases[0].variants["broken"](None, None)


def test_the_scan_lists_the_real_corpus_as_loading_it_does():
    assert [c.describe() for c in corpus.scan([ROOT / "cases"]).cases] == \
        [c.describe() for c in corpus.load([ROOT / "cases"]).cases]


def test_list_names_each_misbehaving_module_and_exits_1():
    proc = subprocess.run([sys.executable, "-m", "tfcanary", "list", "--cases", str(IMPORT_FAULTS)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TFCANARY_IMPORT_TIMEOUT": "3",
                               "PYTHONPATH": str(ROOT / "src")})
    assert proc.returncode == 1, proc.stderr
    assert "still-listed" in proc.stdout and "after-the-faults" in proc.stdout
    assert "corpus error: c_exits.py:4: case module ended the process at import (os._exit(0))" in proc.stderr
    assert "corpus error: b_hangs.py:5: case module did not finish importing" in proc.stderr
    assert "2 cases, 6 corpus errors" in proc.stderr and "Traceback" not in proc.stderr


def test_a_missing_case_folder_is_a_usage_error():
    with pytest.raises(UsageError, match=r"Expected --cases to name a folder or file of case modules"):
        corpus.scan([RESOURCES / "no-such-folder"])
