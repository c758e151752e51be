import tfcanary


def test_all_is_pinned():
    assert tfcanary.__all__ == [
        "Built", "Case", "Claim", "Corpus", "CorpusError", "Entry", "Outcome", "Status",
        "UserError", "layer_case", "load_corpus", "load_environments", "load_outcomes",
        "script_case",
    ]


def test_every_exported_name_resolves():
    for name in tfcanary.__all__:
        assert getattr(tfcanary, name) is not None, name


def test_import_does_not_load_heavy_modules():
    import subprocess
    import sys

    code = ("import sys, tfcanary, tfcanary.case, tfcanary.corpus; "
            "print(sorted(m for m in ('pandas', 'tensorflow', 'jinja2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
