"""The analysis' faster paths give exactly what the pandas code they replaced gives.

Each fast path of the analysis phase (integer keys instead of merges on text, one factorisation of
several text columns, lists made from codes, the findings' order ranked only where keys tie) is
compared with the plain pandas computation it replaced, kept here as the reference, on random
frames: missing values, repeated keys, categoricals, accents, texts that differ only by case."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.analysis import analyse as A
from covguard.analysis import findings as F
from covguard.analysis import keys as K
from covguard.frames import grouped_lists
from covguard.trace import scan_cache
from covguard.trace.tags import TAG_COLUMNS

NAME = st.sampled_from(["a", "B", "b", "é", "e\u0301", "f::g", "10", "9", ""])
MAYBE = st.one_of(NAME, st.none())


def _text(values: list[Any], kind: str) -> pd.Series:
    if kind == "category":
        return pd.Series(values, dtype="category")
    return pd.Series(values, dtype="str" if kind == "str" else object)


KIND = st.sampled_from(["category", "str", "object"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(MAYBE, max_size=12), min_size=1, max_size=3), st.lists(KIND, min_size=3, max_size=3))
def test_text_codes_in_one_pass_are_the_general_codes(columns: list[list[Any]], kinds: list[str]) -> None:
    series = [_text(v, k) for v, k in zip(columns, kinds, strict=False)]
    fast = K._one_pass_codes(series)
    assert fast is not None  # every value is text or missing
    parts = [K._codes_and_names(c) for c in series]
    names = [n.astype(str) for _c, n in parts]
    vocabulary = pd.Index(np.concatenate([np.asarray(n, dtype=object) for n in names])).unique()
    general = [
        np.append(vocabulary.get_indexer(shown), -1).astype(np.int64)[np.asarray(codes, dtype=np.int64)]
        for (codes, _n), shown in zip(parts, names, strict=True)
    ]
    assert [a.tolist() for a in fast] == [b.tolist() for b in general]


def test_text_codes_of_values_that_are_not_text_take_the_general_path() -> None:
    assert K._one_pass_codes([pd.Series([1, "1"], dtype=object), pd.Series(["1"])]) is None
    a, b = K.text_codes(pd.Series([1, "1"], dtype=object), pd.Series(["1"]))
    assert a.tolist() == [b[0], b[0]]


ROW = st.tuples(MAYBE, MAYBE, st.integers(0, 3), st.one_of(st.none(), st.floats(0, 3)), MAYBE)


@settings(max_examples=150, deadline=None)
@given(st.lists(ROW, max_size=40))
def test_severest_first_is_the_stable_sort_with_missing_values_first(rows: list[Any]) -> None:
    df = pd.DataFrame(rows, columns=["file", "function", "line", "_o", "test"]).astype(
        {"file": object, "function": object, "test": object, "line": "int64", "_o": "float64"}
    )
    by = ["_o", "file", "line", "function", "test"]
    expected = df.sort_values(by, kind="stable", na_position="first").index.tolist()
    assert F.severest_first(df, by).tolist() == expected


def _pandas_lists(df: pd.DataFrame, keys: list[str], value: str) -> dict[Any, list[Any]]:
    d = df.loc[:, [*keys, value]].drop_duplicates().sort_values([*keys, value], kind="stable")
    out: dict[Any, list[Any]] = {}
    cols = [d[k].tolist() for k in keys]
    for k, v in zip(
        cols[0] if len(keys) == 1 else list(zip(*cols, strict=True)), d[value].tolist(), strict=True
    ):
        out.setdefault(k, []).append(v)
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(MAYBE, MAYBE, MAYBE), max_size=40), KIND, st.booleans())
def test_grouped_lists_without_sorted_keys_hold_the_sorted_lists(
    rows: list[Any], kind: str, two_keys: bool
) -> None:
    df = pd.DataFrame({c: _text([r[i] for r in rows], kind) for i, c in enumerate("kxv")})
    keys = ["k", "x"] if two_keys else ["k"]
    got = grouped_lists(df, keys, "v", sort_keys=False)
    expected = _pandas_lists(df, keys, "v")
    assert repr(sorted(got.items(), key=repr)) == repr(sorted(expected.items(), key=repr))


FN = st.tuples(NAME, NAME)


@settings(max_examples=150, deadline=None)
@given(st.lists(FN, max_size=15, unique=True), st.lists(st.tuples(NAME, NAME, MAYBE), max_size=40), KIND)
def test_sorted_lists_are_the_grouped_lists_looked_up(
    functions: list[Any], rows: list[Any], kind: str
) -> None:
    fn = pd.DataFrame(functions, columns=["file", "function"], dtype="str")
    right = pd.DataFrame(
        {c: _text([r[i] for r in rows], kind) for i, c in enumerate(["file", "function", "v"])}
    )
    got = K.sorted_lists(fn, right, ["file", "function"], "v")
    lists = _pandas_lists(right, ["file", "function"], "v")
    expected = [lists.get(k, []) for k in zip(fn["file"].tolist(), fn["function"].tolist(), strict=True)]
    if kind == "str" and not right["v"].isna().any():
        assert got is not None  # text without a missing value: the fast path
    if got is not None:  # else (a missing value, a categorical one) left to the caller
        assert got == expected
    # through the analysis' helper, which falls back to the grouped lists
    assert K.lists_per_function(fn, right.dropna(), "v") == [
        _pandas_lists(right.dropna(), ["file", "function"], "v").get(k, [])
        for k in zip(fn["file"].tolist(), fn["function"].tolist(), strict=True)
    ]


def test_sorted_lists_of_a_repeated_key_are_left_to_the_caller() -> None:
    fn = pd.DataFrame({"file": ["a", "a"], "function": ["f", "f"]})
    right = pd.DataFrame({"file": ["a"], "function": ["f"], "v": ["x"]})
    assert K.sorted_lists(fn, right, ["file", "function"], "v") is None
    assert K.lists_per_function(fn, right, "v") == [["x"], ["x"]]


EXEC = st.tuples(NAME, NAME, st.sampled_from(["u1", "u2", "u3"]))


def _functions(rows: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["file", "function"], dtype="str")


@settings(max_examples=100, deadline=None)
@given(st.lists(FN, max_size=12, unique=True), st.lists(EXEC, max_size=30))
def test_rows_per_function_are_the_grouped_sizes_merged(functions: list[Any], rows: list[Any]) -> None:
    fn = _functions(functions)
    ex = pd.DataFrame(rows, columns=["file", "function", "coverage_unit"], dtype="str")
    sizes = ex.groupby(["file", "function"]).size().rename("n")
    expected = fn.merge(sizes, left_on=["file", "function"], right_index=True, how="left")["n"]
    got = A._rows_per_function(fn, ex)
    pd.testing.assert_series_equal(got, expected.rename(None), check_index_type=True)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(NAME, NAME, st.integers(0, 9), st.integers(0, 9)), max_size=12),
    st.lists(st.tuples(NAME, NAME, st.sampled_from(["R1", "R2", "r1"])), max_size=30),
    st.lists(st.one_of(st.sampled_from(["R1", "R2", "r1", "R3"]), st.none()), max_size=6),
    st.booleans(),
)
def test_sums_per_requirement_are_the_merged_group_sums_mapped(
    functions: list[Any], pairs: list[Any], ids: list[Any], distinct: bool
) -> None:
    fn = pd.DataFrame(functions, columns=["file", "function", "lines_total", "branches_total"]).astype(
        {"file": "str", "function": "str", "lines_total": "int64", "branches_total": "int64"}
    )
    pr = pd.DataFrame(pairs, columns=["file", "function", "requirement"], dtype="str")
    id_column = pd.Series(ids, dtype=object)
    columns = ["lines_total", "branches_total"]
    m = (pr.drop_duplicates() if distinct else pr).merge(fn, on=["file", "function"])
    sums = m.groupby("requirement")[columns].sum()
    got = A._sums_per_requirement(id_column, pr, fn, columns, distinct=distinct)
    for c in columns:
        assert got[c].dtype == np.int64
        assert got[c].tolist() == id_column.map(sums[c]).fillna(0).astype("int64").tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(NAME, NAME, NAME, st.integers(0, 3)), max_size=30),
    st.lists(st.tuples(NAME, NAME, NAME), max_size=20),
)
def test_matching_rows_are_the_inner_merge(left_rows: list[Any], right_rows: list[Any]) -> None:
    left = pd.DataFrame(left_rows, columns=["file", "function", "requirement", "n"]).astype(
        {"file": "str", "function": "str", "requirement": "str"}
    )
    right = pd.DataFrame(right_rows, columns=["file", "function", "requirement"], dtype="str")
    on = ["file", "function", "requirement"]
    for r in (right, right.drop_duplicates()):
        pd.testing.assert_frame_equal(K.matching_rows(left, r, on), left.merge(r, on=on))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(MAYBE, NAME, NAME), max_size=30))
def test_distinct_rows_as_text_are_astype_and_drop_duplicates(rows: list[Any]) -> None:
    frame = pd.DataFrame(rows, columns=["file", "function", "test"]).astype("category")
    pd.testing.assert_frame_equal(A._distinct_as_text(frame), frame.astype(str).drop_duplicates())


def _touched_by_merges(
    tr: pd.DataFrame, tests: pd.DataFrame, fexec: pd.DataFrame, fr: pd.DataFrame
) -> set[Any]:
    units = tr.merge(tests.loc[:, ["test", "coverage_unit"]], on="test")
    hit = units.merge(fexec, on="coverage_unit").merge(
        fr.loc[:, ["file", "function", "requirement"]], on=["file", "function", "requirement"]
    )
    return set(hit.loc[:, ["test", "requirement"]].itertuples(index=False, name=None))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["t1", "t2", "t3"]), st.sampled_from(["R1", "R2", "R3"])), max_size=8),
    st.lists(st.tuples(st.sampled_from(["t1", "t2", "t3"]), st.sampled_from(["u1", "u2"])), max_size=4),
    st.lists(EXEC, max_size=20),
    st.lists(st.tuples(NAME, NAME, st.sampled_from(["R1", "R2", "R3"])), max_size=15),
)
def test_touched_pairs_are_those_of_the_merges(
    tr: list[Any], tests: list[Any], fexec: list[Any], fr: list[Any]
) -> None:
    trf = pd.DataFrame(tr, columns=["test", "requirement"], dtype="str").assign(source="harness")
    tf = pd.DataFrame(tests, columns=["test", "coverage_unit"], dtype="str")
    ef = pd.DataFrame(fexec, columns=["file", "function", "coverage_unit"], dtype="str")
    ff = pd.DataFrame(fr, columns=["file", "function", "requirement"], dtype="str")
    got = A._touched_pairs(trf, tf, ef, ff)
    assert not got.duplicated().any()
    assert set(got.itertuples(index=False, name=None)) == _touched_by_merges(trf, tf, ef, ff)


def _line_findings_by_merges(lines: pd.DataFrame, fn: pd.DataFrame) -> pd.DataFrame:
    """The uncovered-line findings as pandas computed them before (a merge, a group-by, a dict per run)."""
    partial = fn[fn["class"].isin(["verified"]) & (fn["lines_verified"] < fn["lines_total"])]
    if not len(partial):
        return F.empty_findings()
    cand = lines[lines["class"].isin(["unexecuted", "incidental"])].merge(
        partial.loc[:, ["file", "function", "requirements"]], on=["file", "function"]
    )
    cand = cand.sort_values(["file", "line"])
    brk = (
        (cand["line"].diff() != 1)
        | (cand["function"] != cand["function"].shift())
        | (cand["file"] != cand["file"].shift())
    )
    runs = (
        cand.assign(run=brk.cumsum())
        .groupby("run")
        .agg(
            file=("file", "first"),
            function=("function", "first"),
            line=("line", "min"),
            end_line=("line", "max"),
            requirements=("requirements", "first"),
            n=("line", "size"),
        )
    )
    rows = [
        {
            "kind": "uncovered_lines",
            "file": r["file"],
            "line": r["line"],
            "end_line": r["end_line"],
            "function": r["function"],
            "requirement": ", ".join(r["requirements"]),
            "message": f"{r['n']} line(s) of '{r['function']}' ({r['line']}-{r['end_line']}) are not "
            f"executed by any passing test of {', '.join(r['requirements'])}",
        }
        for r in runs.to_dict("records")
    ]
    return F.frame(rows)


LINE = st.tuples(
    st.sampled_from(["a.c", "b.c"]),
    st.integers(1, 12),
    st.sampled_from(["f", "g", "h"]),
    st.sampled_from(["verified", "incidental", "unexecuted", "justified"]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(LINE, max_size=40),
    st.lists(
        st.tuples(
            st.sampled_from(["a.c", "b.c"]),
            st.sampled_from(["f", "g", "h"]),
            st.sampled_from(["verified", "incidental"]),
            st.integers(0, 3),
        ),
        max_size=6,
    ),
)
def test_uncovered_line_findings_are_those_of_the_merge_and_group_by(
    lines: list[Any], fns: list[Any]
) -> None:
    lf = pd.DataFrame(lines, columns=["file", "line", "function", "class"]).astype(
        {"file": "str", "function": "str", "class": "str", "line": "int64"}
    )
    fn = pd.DataFrame(fns, columns=["file", "function", "class", "lines_verified"]).astype(
        {"file": "str", "function": "str", "class": "str"}
    )
    requirements = pd.Series([[f"R{i}", "R9"] for i in range(len(fn))], index=fn.index, dtype=object)
    fn = fn.assign(lines_total=2, requirements=requirements)
    expected = _line_findings_by_merges(lf, fn)
    pd.testing.assert_frame_equal(F.line_findings(lf, fn), expected)
    # with the functions' integer keys, as the analysis passes them
    f_lines, f_fn = K.text_codes(lf["file"], fn["file"])
    n_lines, n_fn = K.text_codes(lf["function"], fn["function"])
    keys = K.joint_keys((f_lines, n_lines), (f_fn, n_fn))
    pd.testing.assert_frame_equal(F.line_findings(lf, fn, (keys[0], keys[1])), expected)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(NAME, st.integers(0, 99), st.one_of(st.none(), st.integers(0, 99)), st.booleans(), MAYBE),
        min_size=1,
        max_size=20,
    )
)
def test_the_cached_tag_frame_is_the_cast_frame(rows: list[Any]) -> None:
    columns: dict[str, list[Any]] = {c: [] for c in TAG_COLUMNS}
    for file, line, anchor, trailing, reason in rows:
        for c, v in {
            "file": file, "line": line, "kind": "req", "value": "R1", "reason": reason, "comment_start": line,
            "comment_end": line, "anchor_line": anchor, "decl_end_line": anchor, "trailing": trailing,
            "region_end": anchor,
        }.items():  # fmt: skip
            columns[c].append(v)
    pd.testing.assert_frame_equal(scan_cache._tag_frame(columns), pd.DataFrame(columns).astype(TAG_COLUMNS))


def _implemented_by_grouping(ids: pd.Series, implementing: pd.DataFrame) -> list[list[dict[str, Any]]]:
    """The implementing functions as the analysis grouped them before (a tuple per row, grouped)."""
    refs = list(zip(implementing["file"].tolist(), implementing["function"].tolist(), strict=True))
    impl = grouped_lists(
        implementing.assign(ref=pd.Series(refs, dtype=object)), ["requirement"], "ref", sort=False
    )
    return [[{"file": f, "function": n} for f, n in impl.get(i, [])] for i in ids.tolist()]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(["R1", "R2", "r1", "R3"]), max_size=6),
    st.lists(st.tuples(NAME, NAME, st.sampled_from(["R1", "R2", "r1", "R4"])), max_size=30),
)
def test_implemented_by_is_the_grouped_references(ids: list[str], rows: list[Any]) -> None:
    id_column = pd.Series(ids, dtype="str")
    implementing = pd.DataFrame(rows, columns=["file", "function", "requirement"], dtype="str")
    assert A._implemented_by(id_column, implementing) == _implemented_by_grouping(id_column, implementing)


def _verified_on_by_joins(fn: pd.DataFrame, vu: pd.DataFrame, unit_origin: pd.DataFrame) -> tuple[Any, Any]:
    """The origins joined to the verifying executions, as the analysis always did before."""
    on = vu.merge(unit_origin, on="coverage_unit").loc[:, ["file", "function", "origin"]]
    lists = _pandas_lists(on, ["file", "function"], "origin")
    target = on[~on["origin"].str.startswith("host")].drop_duplicates(["file", "function"])
    listed = [lists.get(k, []) for k in zip(fn["file"].tolist(), fn["function"].tolist(), strict=True)]
    return listed, K.isin_rows(fn, target, ["file", "function"]).tolist()


@settings(max_examples=150, deadline=None)
@given(
    st.lists(FN, max_size=10, unique=True),
    st.lists(EXEC, max_size=25),
    st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.sampled_from(["host", "qemu-m3"])), max_size=4
    ),
    st.booleans(),
)
def test_one_origin_is_the_origins_joined(
    functions: list[Any], vu_rows: list[Any], origins: list[Any], one_origin: bool
) -> None:
    fn = _functions(functions)
    vu = pd.DataFrame(vu_rows, columns=["file", "function", "coverage_unit"], dtype="str")
    unit_origin = pd.DataFrame(origins, columns=["coverage_unit", "origin"], dtype="str")
    if one_origin:
        unit_origin = unit_origin.assign(origin=unit_origin["origin"].iloc[:1].tolist() * len(unit_origin))
    unit_origin = unit_origin.drop_duplicates()
    got = A._one_origin(fn, vu, unit_origin)
    if got is None:  # several origins, or a unit without one: the joins
        assert (
            unit_origin["origin"].nunique() != 1
            or not vu["coverage_unit"].isin(unit_origin["coverage_unit"]).all()
        )
        return
    assert (got[0], got[1].tolist()) == _verified_on_by_joins(fn, vu, unit_origin)
    # with the counts function_facts made already
    counted = A._one_origin(fn.assign(verifying_units=A._rows_per_function(fn, vu)), vu, unit_origin)
    assert counted is not None
    assert (counted[0], counted[1].tolist()) == (got[0], got[1].tolist())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-1, 6), st.booleans(), st.booleans(), st.integers(0, 4), st.booleans()),
        max_size=40,
    ),
    st.lists(st.integers(0, 8), max_size=8, unique=True),
)
def test_line_sums_by_row_are_the_grouped_sums(rows: list[Any], at_fn: list[int]) -> None:
    lines = pd.DataFrame(rows, columns=["at", "executed", "verified", "branches_total", "kept"]).astype(
        {"at": "int64", "executed": bool, "verified": bool, "branches_total": "int64", "kept": bool}
    )
    lines = lines.assign(
        branches_covered_any=lines["branches_total"] // 2, branches_verified=lines["branches_total"] // 3
    )
    keep = (lines["kept"] & (lines["at"] >= 0)).to_numpy(dtype=bool)
    keys = np.array(at_fn, dtype=np.int64)
    got = A._line_sums_by_row(lines, keep, lines["at"].to_numpy(dtype=np.int64), keys)
    assert got is not None
    expected = A._line_sums(lines[keep], "at").reindex(keys)
    for c in expected.columns:
        assert got[c].tolist() == expected[c].fillna(0).astype("int64").tolist()
    assert list(got) == list(expected.columns)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-(2**40), 2**40), st.integers(0, 5)), max_size=40))
def test_distinct_branches_are_drop_duplicates(rows: list[Any]) -> None:
    from covguard.analysis import lines as L

    branches = pd.DataFrame(rows, columns=["at", "branch"]).astype({"at": "int64", "branch": "int32"})
    expected = branches.drop_duplicates(["at", "branch"])["at"].to_numpy()
    assert L._distinct_branches(branches).tolist() == expected.tolist()
