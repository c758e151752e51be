"""Transitions: how each (case, variant, mode) changed from environment A to B.

    a = outcomes[outcomes.env == "tf2.15"]
    b = outcomes[outcomes.env == "tf2.21"]
    t = transitions(a, b)        # one row per (case, variant, mode) in A or B
    t[t.risk == "high"]

Both inputs are outcome frames as :func:`tfcanary.store.load_outcomes` gives
them (only ``case``, ``variant``, ``mode``, ``status``, ``short_type`` and
``fingerprint`` are required; the other columns are carried along with an
``a_`` or ``b_`` prefix).  The upgrade-risk report, the version matrix (each
column against its left neighbour) and the regression check (snapshot against
a run) all classify with this one function.

Tests of a team's own suite compare the same way, with one more rule: a test
present on one side whose module did not collect on the other (an outcome of
mode ``collect`` for the module, or a folder above it) is compared with that
module's outcome (:func:`expand_collection`), and a test that ran in A and
whose module no longer collects in B is ``stopped-collecting``: high risk, the
commonest break of an upgrade.

The classes are compared by their short name: code catches
``tf.errors.InvalidArgumentError`` however the module that defines it is
spelled, so ``...errors_impl.InvalidArgumentError`` in both is the same class.
The message is compared by fingerprint (class + normalized message), never
by the raw text, which carries addresses and auto-numbered names.
"""

from __future__ import annotations

from typing import Any, Dict, List

from . import fingerprint as _fp

KEY = ["case", "variant", "mode"]

# change -> (risk, what it means).  Ordered: the report lists them in this order.
CHANGES: Dict[str, tuple] = {
    "newly-failing": ("high", "worked in A, raises in B"),
    "stopped-collecting": ("high", "its test module no longer collects in B (an import fails)"),
    "class-changed": ("high", "raises another exception class: code that catches the old one breaks"),
    "became-crash": ("high", "kills the process in B"),
    "became-timeout": ("high", "hangs in B (ran past the probe's timeout)"),
    "message-changed": ("low", "same exception class, another message"),
    "crash-to-error": ("low", "crashed or hung in A, raises an exception in B"),
    "now-works": ("none", "failed in A, works in B"),
    "skip-changed": ("info", "the mode applies in one environment only"),
    "added": ("info", "probed in B only (a case or mode new to the corpus)"),
    "removed": ("info", "probed in A only (a case or mode gone from the corpus, or not run)"),
    "unchanged": ("none", "same outcome (same status, class and fingerprint)"),
}
RISKS = ["high", "low", "info", "none"]

_CARRIED = ["status", "exc_type", "short_type", "message", "normalized", "fingerprint", "frame",
            "reason", "tensorflow", "keras", "python", "phase", "xfail", "collect_of"]
TEST_VARIANT = "test"
COLLECT_MODE = "collect"
FAILED = ("error", "crash", "timeout")


def collector_of(case: str, collectors: Any) -> Any:
    """The failed collector (a module's or a folder's node id) among ``collectors`` that holds
    the test ``case``, or None."""
    for c in collectors:
        if case.startswith(c + "::") or case.startswith(c.rstrip("/") + "/"):
            return c
    return None


def expand_collection(frame, other):
    """``frame`` plus, for each test of ``other`` that ``frame`` lacks and whose module did not
    collect in ``frame``, a row standing for it: the module's outcome, with ``collect_of``
    naming the module.  Rows of ``frame`` itself are never changed."""
    import pandas as pd

    if "mode" not in frame or frame.empty or other is None or other.empty:
        return frame
    failed = frame[(frame["mode"] == COLLECT_MODE) & frame["status"].isin(FAILED)]
    if failed.empty:
        return frame
    by_collector = {r["case"]: r for r in failed.to_dict("records")}
    have = set(zip(frame["case"], frame["variant"], frame["mode"]))
    tests = other[(other["variant"] == TEST_VARIANT) & (other["mode"] != COLLECT_MODE)]
    rows = []
    for r in tests.to_dict("records"):
        key = (r["case"], r["variant"], r["mode"])
        if key in have:
            continue
        owner = collector_of(r["case"], sorted(by_collector, key=len, reverse=True))
        if owner is None:
            continue
        stand_in = dict(by_collector[owner], case=r["case"], mode=r["mode"], collect_of=owner)
        for col in ("family", "kind"):
            if col in r:
                stand_in[col] = r[col]
        rows.append(stand_in)
        have.add(key)
    if not rows:
        return frame
    return pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)


def refingerprint(outcomes):
    """``outcomes`` with ``normalized`` and ``fingerprint`` recomputed by this normalizer
    where an older one wrote them.

    Results keep the raw message so that fingerprints written by an older
    normalizer can be brought up to date; comparing two files written by
    different normalizer versions would otherwise show every error as changed.
    A fingerprint this normalizer wrote (the results' ``normalizer_version``)
    stays as the engine computed it, from the message as it was raised: the
    message kept in results has the user's folders rewritten (``./``,
    ``$TFCANARY_CACHE``), which the normalizer would read otherwise.
    """
    out = outcomes.copy()
    err = out["status"].eq("error") & out["message"].notna() & out["exc_type"].notna()
    if "normalizer_version" in out:
        err &= out["normalizer_version"].ne(_fp.NORMALIZER_VERSION)
    if err.any():
        norm = out.loc[err, "message"].map(_fp.normalize)
        out.loc[err, "normalized"] = norm
        out.loc[err, "fingerprint"] = [
            _fp.fingerprint(t, n) for t, n in zip(out.loc[err, "exc_type"], norm)]
    return out


def _classify(a_status: Any, b_status: Any, a_type: str, b_type: str, a_fp: str, b_fp: str,
              compare_fingerprints: bool) -> str:
    if not isinstance(a_status, str) or not a_status:
        return "added"
    if not isinstance(b_status, str) or not b_status:
        return "removed"
    if a_status == b_status:
        if a_status != "error":
            return "unchanged"
        if a_type != b_type:
            return "class-changed"
        if compare_fingerprints and a_fp != b_fp:
            return "message-changed"
        return "unchanged"
    if "skip" in (a_status, b_status):
        return "skip-changed"
    if b_status == "crash":
        return "became-crash"
    if b_status == "timeout":
        return "became-timeout"
    if b_status == "ok":
        return "now-works"
    # b is "error", a is "ok", "crash" or "timeout"
    return "newly-failing" if a_status == "ok" else "crash-to-error"


def transitions(a, b, compare_fingerprints: bool = True):
    """Classify every (case, variant, mode) of ``a`` or ``b``: one row each.

    Columns: ``case``, ``family``, ``kind``, ``variant``, ``mode``, ``change``
    (a key of :data:`CHANGES`), ``risk``, then ``a_<col>`` and ``b_<col>`` for
    the outcome columns present in the inputs.  ``compare_fingerprints=False``
    compares status and class only (for fingerprints written by another
    normalizer version, which cannot be recomputed).  Rows come sorted by risk,
    change, then key.
    """
    import pandas as pd

    for name, frame in (("a", a), ("b", b)):
        missing = [c for c in KEY + ["status"] if c not in frame.columns]
        if missing:
            raise ValueError(f"Expected outcome frames with columns {KEY + ['status']}. "
                             f"Received: frame {name} without {missing}.")
        if frame.duplicated(KEY).any():
            dup = frame[frame.duplicated(KEY)].iloc[0]
            raise ValueError(f"Expected one outcome per (case, variant, mode). Received: frame {name} "
                             f"has {tuple(dup[k] for k in KEY)} more than once.")

    a, b = expand_collection(a, b), expand_collection(b, a)

    def side(frame, prefix: str):
        cols = [c for c in _CARRIED if c in frame.columns]
        meta = [c for c in ("family", "kind") if c in frame.columns]
        s = frame[KEY + meta + cols].rename(columns={c: f"{prefix}_{c}" for c in cols + meta})
        return s

    m = side(a, "a").merge(side(b, "b"), on=KEY, how="outer")
    for col in ("family", "kind"):
        a_col, b_col = f"a_{col}", f"b_{col}"
        if a_col in m or b_col in m:
            left = m[b_col] if b_col in m else pd.Series(None, index=m.index, dtype=object)
            right = m[a_col] if a_col in m else pd.Series(None, index=m.index, dtype=object)
            m[col] = left.where(left.notna(), right)
            m = m.drop(columns=[c for c in (a_col, b_col) if c in m])
        else:
            m[col] = None
    for p in ("a", "b"):
        for c in ("short_type", "fingerprint"):
            if f"{p}_{c}" not in m:
                m[f"{p}_{c}"] = None

    def text(s):
        return s.astype(object).where(s.notna(), "").tolist()

    m["change"] = [
        _classify(*vals, compare_fingerprints=compare_fingerprints)
        for vals in zip(text(m["a_status"]), text(m["b_status"]), text(m["a_short_type"]),
                        text(m["b_short_type"]), text(m["a_fingerprint"]), text(m["b_fingerprint"]))]
    if "b_collect_of" in m:
        stopped = m["b_collect_of"].notna() & (m["a_collect_of"].isna() if "a_collect_of" in m else True)
        m.loc[stopped & m["a_status"].notna(), "change"] = "stopped-collecting"
    m["risk"] = m["change"].map(lambda c: CHANGES[c][0])
    order = {c: i for i, c in enumerate(CHANGES)}
    m["_order"] = m["change"].map(order)
    m = m.sort_values(["_order"] + KEY, kind="stable").drop(columns="_order").reset_index(drop=True)
    lead = ["case", "family", "kind", "variant", "mode", "change", "risk"]
    return m[lead + [c for c in m.columns if c not in lead]]


def classify(a: Any, b: Any, compare_fingerprints: bool = True) -> str:
    """The change from outcome ``a`` to outcome ``b`` (dicts or rows with ``status``,
    ``short_type``, ``fingerprint``; ``None`` for an outcome that is absent)."""
    def get(o: Any, k: str) -> str:
        v = None if o is None else o.get(k)
        return v if isinstance(v, str) else ""
    return _classify(get(a, "status"), get(b, "status"), get(a, "short_type"), get(b, "short_type"),
                     get(a, "fingerprint"), get(b, "fingerprint"), compare_fingerprints)


def counts(t) -> List[Dict[str, Any]]:
    """Rows of (change, risk, meaning, n) for every change kind, zeros included, in order."""
    n = t["change"].value_counts()
    return [{"change": c, "risk": r, "meaning": meaning, "n": int(n.get(c, 0))}
            for c, (r, meaning) in CHANGES.items()]


def describe(prefix: str, row: Any) -> str:
    """One outcome of a transitions row, in words: ``error TypeError``, ``ok``, ``(absent)``."""
    status = row.get(f"{prefix}_status")
    if not isinstance(status, str) or not status:
        return "(absent)"
    short = row.get(f"{prefix}_short_type")
    if status == "error" and isinstance(short, str) and short:
        return f"error {short}"
    return status
