"""The transition classifier, on small hand-built outcome frames (one per change kind)."""

import pandas as pd
import pytest

from tfcanary import diff, fingerprint

COLS = ["case", "variant", "mode", "status", "exc_type", "short_type", "message", "normalized",
        "fingerprint"]


def frame(*rows):
    out = []
    for case, status, exc, msg in rows:
        fp = short = norm = None
        if status == "error":
            norm = fingerprint.normalize(msg)
            fp = fingerprint.fingerprint(exc, norm)
            short = exc.rsplit(".", 1)[-1]
        out.append({"case": case, "variant": "broken", "mode": "eager", "status": status,
                    "exc_type": exc, "short_type": short, "message": msg, "normalized": norm,
                    "fingerprint": fp})
    return pd.DataFrame(out, columns=COLS)


A = frame(
    ("same-ok", "ok", None, None),
    ("same-error", "error", "builtins.TypeError", "bad dense_3"),
    ("newly", "ok", None, None),
    ("repaired", "error", "builtins.ValueError", "x"),
    ("cls", "error", "tensorflow.python.framework.errors_impl.InvalidArgumentError", "x"),
    ("msg", "error", "builtins.ValueError", "shape (4, 3)"),
    ("crash", "ok", None, None),
    ("timeout", "error", "builtins.ValueError", "x"),
    ("back", "crash", None, None),
    ("skip", "skip", None, None),
    ("gone", "ok", None, None),
    ("moved-module", "error", "keras.src.engine.base_layer.SomeError", "x"),
)
B = frame(
    ("same-ok", "ok", None, None),
    ("same-error", "error", "builtins.TypeError", "bad dense_7"),   # auto-numbered name only
    ("newly", "error", "builtins.TypeError", "x"),
    ("repaired", "ok", None, None),
    ("cls", "error", "builtins.TypeError", "x"),
    ("msg", "error", "builtins.ValueError", "shape (4, 5)"),
    ("crash", "crash", None, None),
    ("timeout", "timeout", None, None),
    ("back", "error", "builtins.ValueError", "x"),
    ("skip", "ok", None, None),
    ("new", "ok", None, None),
    ("moved-module", "error", "keras.src.layers.SomeError", "x"),
)


def test_every_change_kind_is_classified():
    t = diff.transitions(A, B).set_index("case")
    assert t["change"].to_dict() == {
        "same-ok": "unchanged", "same-error": "unchanged", "newly": "newly-failing",
        "repaired": "now-works", "cls": "class-changed", "msg": "message-changed",
        "crash": "became-crash", "timeout": "became-timeout", "back": "crash-to-error",
        "skip": "skip-changed", "gone": "removed", "new": "added",
        # Same short class, another module: code catching it still does; the fingerprint
        # (which hashes the qualified name) changed, so it reads as a message change.
        "moved-module": "message-changed",
    }
    assert t.loc["cls", "risk"] == "high" and t.loc["msg", "risk"] == "low"
    assert t.loc["cls", "a_short_type"] == "InvalidArgumentError"
    assert t.loc["cls", "b_short_type"] == "TypeError"


def test_rows_come_ordered_by_change_kind():
    t = diff.transitions(A, B)
    order = list(diff.CHANGES)
    ranks = [order.index(c) for c in t["change"]]
    assert ranks == sorted(ranks)
    assert t.iloc[0]["change"] == "newly-failing"


def test_without_fingerprints_only_status_and_class_count():
    t = diff.transitions(A, B, compare_fingerprints=False).set_index("case")
    assert t.loc["msg", "change"] == "unchanged"
    assert t.loc["cls", "change"] == "class-changed"


def test_counts_cover_every_kind_with_zeros():
    c = {r["change"]: r["n"] for r in diff.counts(diff.transitions(A, A))}
    assert list(c) == list(diff.CHANGES)
    assert c["unchanged"] == len(A) and sum(c.values()) == len(A)


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match=r"one outcome per \(case, variant, mode\)"):
        diff.transitions(pd.concat([A, A.iloc[:1]]), B)


def test_missing_columns_are_refused():
    with pytest.raises(ValueError, match="Expected outcome frames with columns"):
        diff.transitions(A.drop(columns="status"), B)


def test_refingerprint_recomputes_stale_fingerprints():
    stale = A.copy()
    stale.loc[stale["status"] == "error", "fingerprint"] = "000000000000"
    fresh = diff.refingerprint(stale)
    assert fresh["fingerprint"].fillna("").tolist() == A["fingerprint"].fillna("").tolist()


def test_the_change_kind_for_a_repair_never_reads_like_the_variant_name():
    assert "fixed" not in diff.CHANGES and "now-works" in diff.CHANGES
    assert diff.CHANGES["now-works"][0] == "none"


def test_classify_one_pair_agrees_with_transitions():
    t = diff.transitions(A, B)
    a, b = A.set_index("case"), B.set_index("case")
    for r in t.itertuples():
        left = a.loc[r.case].to_dict() if r.case in a.index else None
        right = b.loc[r.case].to_dict() if r.case in b.index else None
        assert diff.classify(left, right) == r.change, r.case
    assert diff.classify({"status": "error", "short_type": "T", "fingerprint": "1"},
                         {"status": "error", "short_type": "T", "fingerprint": "2"},
                         compare_fingerprints=False) == "unchanged"


# --- a team's own tests: a module that no longer collects --------------------------------------

def _tests(rows):
    import pandas as pd

    cols = ["case", "variant", "mode", "status", "short_type", "fingerprint"]
    return pd.DataFrame([dict(zip(cols, r)) for r in rows], columns=cols)


def test_a_test_whose_module_no_longer_collects_is_stopped_collecting_high_risk():
    a = _tests([("t/test_a.py::test_x", "test", "pytest", "ok", None, None),
                ("t/test_a.py::test_y[1]", "test", "pytest", "error", "ValueError", "f1"),
                ("t/test_b.py::test_z", "test", "pytest", "ok", None, None)])
    b = _tests([("t/test_a.py", "test", "collect", "error", "ModuleNotFoundError", "m1"),
                ("t/test_b.py::test_z", "test", "pytest", "ok", None, None)])
    t = diff.transitions(a, b).set_index("case")
    assert t.loc["t/test_a.py::test_x", "change"] == "stopped-collecting"
    assert t.loc["t/test_a.py::test_y[1]", "change"] == "stopped-collecting"
    assert t.loc["t/test_a.py::test_x", "risk"] == "high"
    assert t.loc["t/test_a.py::test_x", "b_short_type"] == "ModuleNotFoundError"
    assert t.loc["t/test_a.py::test_x", "b_collect_of"] == "t/test_a.py"
    assert t.loc["t/test_a.py", "change"] == "added"
    assert t.loc["t/test_b.py::test_z", "change"] == "unchanged"
    # the other way round: it collects again, and its tests pass
    back = diff.transitions(b, a).set_index("case")
    assert back.loc["t/test_a.py::test_x", "change"] == "now-works"
    assert back.loc["t/test_a.py::test_y[1]", "change"] == "class-changed"


def test_a_folder_that_does_not_collect_stands_for_the_tests_below_it():
    a = _tests([("t/sub/test_a.py::test_x", "test", "pytest", "ok", None, None)])
    b = _tests([("t/sub", "test", "collect", "error", "ImportError", "m"),
                ("t/subway/test_c.py::test_q", "test", "pytest", "ok", None, None)])
    t = diff.transitions(a, b).set_index("case")
    assert t.loc["t/sub/test_a.py::test_x", "change"] == "stopped-collecting"
    assert diff.collector_of("t/subway/test_c.py::test_q", ["t/sub"]) is None


def test_a_module_that_fails_on_both_sides_compares_its_errors():
    a = _tests([("t/test_a.py", "test", "collect", "error", "ImportError", "m1")])
    b = _tests([("t/test_a.py", "test", "collect", "error", "ModuleNotFoundError", "m2")])
    assert diff.transitions(a, b)["change"].tolist() == ["class-changed"]
