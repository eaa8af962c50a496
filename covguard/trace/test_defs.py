"""Where a test is defined: C test functions found by name in the test sources.

A framework that reports a test by name (Unity prints ``file:line:name:PASS``, where ``file:line``
is the ``RUN_TEST`` line in ``main`` for a pass and the failing assertion for a failure) does not
say where the test function is.  ``@verifies`` tags sit above that function, so covguard finds the
definition ``void name(void) {`` in the test sources and attaches tags to it.

Only definitions count (a name followed by a parameter list and a body), never calls, prototypes
or text in comments and strings.  A name defined in several files is resolved by the file the
framework reported; otherwise it stays unresolved (no guess).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pandas as pd

DEFINITION_COLUMNS = ["file", "name", "line_start", "line_end"]

# comments and literals, blanked (newlines kept) before looking for definitions
_NOISE = re.compile(
    r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'",
    re.DOTALL,
)
# `void name(void) {`, `static void name() {`, a parametrised Unity test `void name(int a, int b) {`
_DEFINITION = re.compile(
    r"(?<![\w.>])(?:static\s+|inline\s+|extern\s+)*void\s+(?P<name>[A-Za-z_]\w*)\s*\([^(){};]*\)\s*\{"
)
MAX_SOURCE_BYTES = 8 * 1024 * 1024  # a test source larger than this is not searched


def _blank(match: re.Match[str]) -> str:
    """The match with every character but the newlines a space (offsets and lines kept)."""
    return "\n".join(" " * len(part) for part in match.group(0).split("\n"))


def _closing_line(text: str, open_at: int, newlines: list[int]) -> int:
    """The line of the brace closing the one at ``open_at`` (comments and strings blanked)."""
    depth = 0
    for m in re.finditer(r"[{}]", text[open_at:]):
        depth += 1 if m.group(0) == "{" else -1
        if depth == 0:
            return _line_of(open_at + m.start(), newlines)
    return _line_of(len(text), newlines)


def _line_of(offset: int, newlines: list[int]) -> int:
    import bisect

    return bisect.bisect_right(newlines, offset - 1) + 1 if offset else 1


def definitions(items: Iterable[tuple[str, bytes]], names: set[str]) -> pd.DataFrame:
    """Every definition of a function in ``names`` in the sources ``items`` (path, bytes):
    ``file``, ``name``, ``line_start`` (the line of the name) and ``line_end`` (its closing brace)."""
    rows: list[dict[str, object]] = []
    for path, data in items if names else ():  # no name to look for: no source to read
        if len(data) > MAX_SOURCE_BYTES:
            continue
        text = _NOISE.sub(_blank, data.decode("utf-8", errors="replace"))
        newlines = [m.start() for m in re.finditer("\n", text)]
        for m in _DEFINITION.finditer(text):
            if m.group("name") not in names:
                continue
            rows.append(
                {
                    "file": path,
                    "name": m.group("name"),
                    "line_start": _line_of(m.start("name"), newlines),
                    "line_end": _closing_line(text, m.end() - 1, newlines),
                }
            )
    return pd.DataFrame(rows, columns=DEFINITION_COLUMNS).astype(
        {"file": str, "name": str, "line_start": "int64", "line_end": "int64"}
    )


def base_names(names: pd.Series) -> pd.Series:
    """The function name of each test name: a parametrised case ``test_x(1, 2)`` -> ``test_x``."""
    return names.astype(str).str.replace(r"\(.*$", "", regex=True).str.strip()


def place_tests(tests: pd.DataFrame, found: pd.DataFrame, named: Sequence[str]) -> pd.DataFrame:
    """``test``, ``file``, ``line_start``, ``line_end`` of each test in ``named`` (test ids) whose
    function is defined once in the test sources, or once in the file its framework reported."""
    sub = tests[tests["test"].isin(list(named))].loc[:, ["test", "name", "file"]]
    sub = sub.assign(name=base_names(sub["name"]))
    cand = sub.merge(found.rename(columns={"file": "def_file"}), on="name")
    same = cand[cand["def_file"] == cand["file"]]
    counts = cand.groupby("test")["def_file"].transform("size")
    only = cand[counts == 1]
    same_counts = same.groupby("test")["def_file"].transform("size")
    chosen = pd.concat([same[same_counts == 1], only[~only["test"].isin(same["test"])]])
    chosen = chosen.drop_duplicates("test")
    return chosen.loc[:, ["test", "def_file", "line_start", "line_end"]].rename(columns={"def_file": "file"})
