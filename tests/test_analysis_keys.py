"""The analysis' faster paths give what the pandas operations they replace give.

Integer keys of text columns (covguard.analysis.keys), grouped lists deduplicated and sorted on
codes (covguard.frames.grouped_lists), the symbolic-link check that resolves each folder once: each
is compared with the plain pandas / pathlib computation on random or hand-made inputs (missing
values, categoricals, accents, links outside the root, dangling links, ``..``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from covguard.analysis.keys import isin_rows, joint_keys, text_codes
from covguard.files import RealPaths, escapes_root
from covguard.frames import grouped_lists

TEXT = st.sampled_from(["a", "B", "é", "e\u0301", "z", "", "10", "9", "A1", "ä", None])


def _column(values: list[str | None], kind: str) -> pd.Series:
    if kind == "category":
        return pd.Series(values, dtype="category")
    if kind == "str":
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=object)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(TEXT, max_size=30),
    st.lists(TEXT, max_size=30),
    st.sampled_from(["category", "str", "object"]),
    st.sampled_from(["category", "str", "object"]),
)
def test_text_codes_are_equal_exactly_when_the_text_is(
    left: list[str | None], right: list[str | None], lkind: str, rkind: str
) -> None:
    a, b = _column(left, lkind), _column(right, rkind)
    ca, cb = text_codes(a, b)
    values = [*a.astype(str).tolist(), *b.astype(str).tolist()]
    codes = [*ca.tolist(), *cb.tolist()]
    for i, (x, cx) in enumerate(zip(values, codes, strict=True)):
        assert (cx == -1) == (not isinstance(x, str))
        for y, cy in zip(values[i:], codes[i:], strict=True):
            if isinstance(x, str) and isinstance(y, str):
                assert (x == y) == (cx == cy)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-1, 5), st.integers(-(2**40), 2**40)), max_size=20),
    st.lists(st.tuples(st.integers(-1, 5), st.integers(-(2**40), 2**40)), max_size=20),
)
def test_joint_keys_are_equal_exactly_when_the_tuples_are(
    left: list[tuple[int, int]], right: list[tuple[int, int]]
) -> None:
    cols = [np.array([t[i] for t in left], dtype=np.int64) for i in (0, 1)]
    rcols = [np.array([t[i] for t in right], dtype=np.int64) for i in (0, 1)]
    lk, rk = joint_keys(cols, rcols)
    rows, keys = [*left, *right], [*lk.tolist(), *rk.tolist()]
    for i in range(len(rows)):
        for j in range(len(rows)):
            assert (rows[i] == rows[j]) == (keys[i] == keys[j])


def test_joint_keys_of_values_too_far_apart_stay_exact() -> None:
    big = np.array([-(2**62), 2**62, 0, 2**62], dtype=np.int64)
    lk, rk = joint_keys((big, big), (big[::-1], big[::-1]))
    assert lk.tolist()[1] == lk.tolist()[3] == rk.tolist()[0]
    assert len(set(lk.tolist())) == 3


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(TEXT, st.integers(0, 3)), max_size=25),
    st.lists(st.tuples(TEXT, st.integers(0, 3)), max_size=25),
)
def test_isin_rows_is_the_multiindex_isin(left: list[Any], right: list[Any]) -> None:
    a = pd.DataFrame(left, columns=["file", "line"]).astype({"file": "str", "line": "int64"})
    b = pd.DataFrame(right, columns=["file", "line"]).astype({"file": "str", "line": "int64"})
    a, b = a.dropna(), b.dropna()  # the frames it serves have no missing keys
    expected = a.set_index(["file", "line"]).index.isin(b.set_index(["file", "line"]).index)
    assert isin_rows(a, b, ["file", "line"]).tolist() == list(expected)


def _pandas_grouped_lists(df: pd.DataFrame, keys: list[str], value: str, sort: bool) -> dict[Any, list[Any]]:
    d = df.loc[:, [*keys, value]].drop_duplicates()
    if sort:
        d = d.sort_values([*keys, value], kind="stable")
    columns = [d[k].tolist() for k in keys]
    out: dict[Any, list[Any]] = {}
    for k, v in zip(
        columns[0] if len(keys) == 1 else list(zip(*columns, strict=True)), d[value].tolist(), strict=True
    ):
        out.setdefault(k, []).append(v)
    return out


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(TEXT, TEXT, TEXT), max_size=40),
    st.sampled_from(["category", "str", "object"]),
    st.booleans(),
    st.booleans(),
)
def test_grouped_lists_are_pandas_drop_duplicates_and_sort(
    rows: list[tuple[str | None, ...]], kind: str, sort: bool, two_keys: bool
) -> None:
    df = pd.DataFrame({c: _column([r[i] for r in rows], kind) for i, c in enumerate("kxv")})
    keys = ["k", "x"] if two_keys else ["k"]
    expected = _pandas_grouped_lists(df, keys, "v", sort)
    got = grouped_lists(df, keys, "v", sort=sort)
    assert repr(list(got.items())) == repr(list(expected.items()))


def test_grouped_lists_of_tuples_in_order_of_appearance() -> None:
    df = pd.DataFrame(
        {"r": ["b", "a", "b", "b"], "ref": pd.Series([("x", "f"), ("y", "g"), ("x", "f"), ("a", "h")])}
    )
    assert grouped_lists(df, ["r"], "ref", sort=False) == {"b": [("x", "f"), ("a", "h")], "a": [("y", "g")]}
    assert list(grouped_lists(df, ["r"], "ref", sort=False)) == ["b", "a"]


def test_the_symbolic_link_check_resolves_as_pathlib_does(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "src" / "sub").mkdir(parents=True)
    (outside / "d").mkdir(parents=True)
    for p in (outside / "x.c", outside / "d" / "y.c", root / "src" / "a.c", root / "src" / "sub" / "b.c"):
        p.write_text("int x;\n")
    os.symlink("../../outside/x.c", root / "src" / "lx.c")
    os.symlink("../../outside/d", root / "src" / "ld")
    os.symlink("nowhere", root / "src" / "dangling.c")
    os.symlink("sub", root / "src" / "insub")
    os.symlink(root / "src" / "a.c", root / "src" / "abs.c")
    names = ["src/a.c", "src/sub/b.c", "src/lx.c", "src/ld/y.c", "src/ld/none.c", "src/dangling.c",
             "src/insub/b.c", "src/abs.c", "src/../src/a.c", "src/sub/..", "missing/z.c", "/abs/p.c",
             "src/ld/../x.c", "src/ld/..", "src/insub/../lx.c"]  # fmt: skip
    where = RealPaths(root)
    got = [where.escapes_root(n) for n in names]
    assert got == [escapes_root(n, root) for n in names]
    assert got[2] == str((outside / "x.c").resolve())
    assert got[0] is None


@st.composite
def _functions_and_tags(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = ["b.c", "a.c", "c.h", "é.c"]
    funcs = []
    for i in range(draw(st.integers(0, 14))):
        start = draw(st.integers(-1, 40))
        funcs.append((draw(st.sampled_from(files)), f"f{i}", start, start + draw(st.integers(0, 25))))
    tags = []
    for _ in range(draw(st.integers(0, 20))):
        anchor = draw(st.one_of(st.none(), st.integers(0, 60)))
        tags.append(
            {
                "file": draw(st.sampled_from([*files, "none.c"])),
                "line": draw(st.integers(-1, 60)),
                "kind": draw(st.sampled_from(["req", "justify", "excl_line", "verifies"])),
                "anchor_line": anchor,
                "decl_end_line": None if anchor is None else anchor + draw(st.integers(-3, 5)),
                "trailing": draw(st.booleans()),
                "region_end": None,
            }
        )
    return pd.DataFrame(funcs, columns=["file", "function", "line_start", "line_end"]), pd.DataFrame(tags)


@settings(max_examples=150, deadline=None)
@given(_functions_and_tags())
def test_functions_of_tags_chosen_for_all_files_at_once_as_file_by_file(
    drawn: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from covguard.trace import tags as T

    functions, tags = drawn
    if tags.empty:
        return
    tags = tags.astype({"anchor_line": "Int64", "decl_end_line": "Int64", "region_end": "Int64"})
    funcs = T._sorted_functions(functions)
    f_start, f_end = funcs["line_start"].to_numpy(np.int64), funcs["line_end"].to_numpy(np.int64)
    arrays = T._TagArrays.of(tags)
    at_once = T._choose_functions(tags, arrays, funcs, f_start, f_end)
    per_file = T._choose_per_file(tags, arrays, funcs, f_start, f_end)
    assert at_once[0].tolist() == per_file[0].tolist()
    assert at_once[1].tolist() == per_file[1].tolist()


@st.composite
def _coverage(draw: st.DrawFn) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    from covguard.frames import BRANCHES, CODE_LINES, LINES, CoverageData, conform

    files, units = ["a.c", "b.c", "é.c"], ["t::1", "t::2", "t::3"]
    universe = sorted(
        {(draw(st.sampled_from(files)), draw(st.integers(1, 30))) for _ in range(draw(st.integers(1, 25)))}
    )
    code = pd.DataFrame(
        [(f, n, f"{f[0]}{n // 10}", draw(st.integers(0, 3)), draw(st.integers(0, 5))) for f, n in universe],
        columns=["file", "line", "function", "branches_total", "count"],
    )
    executed = code.sample(frac=draw(st.floats(0, 1)), random_state=draw(st.integers(0, 99)))
    tests = [draw(st.sampled_from(units)) for _ in range(len(executed))]
    lines = executed.assign(test=tests, branches_covered=0, origin="host", variant="default")
    branches = pd.DataFrame(
        [(f, n, draw(st.integers(0, 3)), draw(st.sampled_from(units)), 1, "host", "default")
         for f, n in draw(st.lists(st.sampled_from([*universe, ("z.c", 3)]), max_size=30))],
        columns=["file", "line", "branch", "test", "count", "origin", "variant"],
    )  # fmt: skip
    data = CoverageData(
        lines=conform(lines, LINES),
        branches=conform(branches, BRANCHES),
        code_lines=conform(code, CODE_LINES),
    )
    fn = code.groupby(["file", "function"], as_index=False).agg(
        line_start=("line", "min"), line_end=("line", "max")
    )
    fn["class"] = [draw(st.sampled_from(["verified", "rogue", "incidental"])) for _ in range(len(fn))]
    verifying = (
        fn.loc[:, ["file", "function"]]
        .sample(frac=0.5, random_state=1)
        .assign(coverage_unit=draw(st.sampled_from(units)))
    )
    return data, verifying, fn


@settings(max_examples=60, deadline=None)
@given(_coverage(), st.randoms(use_true_random=False))
def test_lines_classified_the_same_in_any_row_order(
    drawn: tuple[Any, pd.DataFrame, pd.DataFrame], rnd: Any
) -> None:
    """Lines in the coverage's order take the binary-search path, shuffled lines pandas' hashing:
    every line gets the same classification either way."""
    from dataclasses import replace

    from covguard.analysis.lines import classify_lines, scopes
    from covguard.trace.tags import attach_to_functions, empty_tags

    data, verifying, fn = drawn
    no_scopes = scopes(
        attach_to_functions(empty_tags(), fn.loc[:, ["file", "function", "line_start", "line_end"]])
    )
    ordered = classify_lines(data, verifying, fn, no_scopes)
    order = list(range(len(data.code_lines)))
    rnd.shuffle(order)
    shuffled = classify_lines(replace(data, code_lines=data.code_lines.iloc[order]), verifying, fn, no_scopes)
    pd.testing.assert_frame_equal(shuffled.sort_index(), ordered.sort_index(), check_exact=True)
    assert ordered["tests"].sum() == len(data.lines)
