"""gcc against clang: do two compilers' runs of the same tests agree on what was executed?

gcov counts *lines*; clang counts *source regions* and llvm-cov turns them into lines by its own
rule.  The two agree on every function each test entered and, on the lines both call executable,
on which tests executed them - except in the cases below, each with its reason:

====================  ===========================================================================
reason                why
====================  ===========================================================================
``signature``         gcc counts a function's entry on the line of its name; clang's regions
                      start at the ``{`` (only gcc reports the line)
``brace``             clang counts lines holding only ``{``/``}``/``else`` (region boundaries);
                      gcc gives them no code of their own (only clang reports the line)
``macro``             the line is inside a ``#define``: clang counts a macro's body where it is
                      defined (expansion regions), gcc counts macro code on the line using it
``continuation``      a line inside a statement that starts above (a multi-line condition,
                      call or declaration): clang counts it with the region running through it,
                      gcc only when code on it ran - short-circuit evaluation may skip it
``declaration``       clang's region covers a line without code of its own (a declaration, a
                      label, a comment inside an expression); gcc does not count it
``unexplained``       none of the above: a real disagreement (report it)
====================  ===========================================================================

:func:`compare_runs` returns one row per difference; the test suite checks that the sample
firmware has no ``unexplained`` one.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from covguard.frames import CoverageData

DIFFERENCE_COLUMNS = ["kind", "test", "file", "line", "function", "gcc", "clang", "reason"]
_BRACE = re.compile(r"^\s*(\}\s*(else\b.*)?|\{|else\s*\{?|\}\s*while\s*\(.*\)\s*;|do\s*\{?)\s*$")


def _keys(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    out = df.loc[:, cols].copy()
    for c in cols:
        out[c] = out[c].astype("int64") if c == "line" else out[c].astype(str)
    return out.drop_duplicates()


def _only(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    m = a.merge(b, on=cols, how="left", indicator=True)
    return m[m["_merge"] == "left_only"].drop(columns="_merge")


class _Sources:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, list[str]] = {}

    def lines(self, file: str) -> list[str]:
        if file not in self.cache:
            p = Path(file) if file.startswith("/") else self.root / file
            try:
                self.cache[file] = p.read_text(encoding="utf-8", errors="replace").split("\n")
            except OSError:
                self.cache[file] = []
        return self.cache[file]


def _line_facts(rows: pd.DataFrame, sources: _Sources) -> pd.DataFrame:
    """Per (file, line): is it in a #define, a brace-only line, a continuation of a statement."""
    facts = rows.loc[:, ["file", "line"]].drop_duplicates().reset_index(drop=True)
    in_macro, brace, continuation = [], [], []
    for file, line in zip(facts["file"], facts["line"], strict=True):
        text = sources.lines(file)
        i = int(line) - 1
        cur = text[i] if 0 <= i < len(text) else ""
        prev = text[i - 1].rstrip() if 0 < i <= len(text) else ""
        in_macro.append(_in_define(text, i))
        brace.append(bool(_BRACE.match(cur)))
        code_prev = re.sub(r"//.*$", "", prev).rstrip()
        continuation.append(bool(code_prev) and not code_prev.endswith((";", "{", "}", ":")))
    return facts.assign(in_macro=in_macro, brace=brace, continuation=continuation)


def _in_define(text: list[str], i: int) -> bool:
    """Line ``i`` (0-based) is part of a ``#define`` (its first line or a continued one)."""
    j = i
    while 0 <= j < len(text):
        if text[j].lstrip().startswith("#define"):
            return True
        if j > 0 and text[j - 1].rstrip().endswith("\\"):
            j -= 1
            continue
        return False
    return False


def compare_runs(gcc: CoverageData, clang: CoverageData, root: Path) -> pd.DataFrame:
    """Every difference between a gcc and a clang run of the same tests, with its reason.

    Kinds: ``function_executed`` (a test entered a function in one run only), ``function``
    (a function in one build only), ``line`` (an executable line in one build only),
    ``line_executed`` (a line both report, executed by a test in one run only).
    """
    sources = _Sources(root)
    fkey = ["test", "file", "function"]
    fg, fc = _keys(gcc.functions, fkey), _keys(clang.functions, fkey)
    parts = [
        _only(fg, fc, fkey).assign(kind="function_executed", gcc=True, clang=False),
        _only(fc, fg, fkey).assign(kind="function_executed", gcc=False, clang=True),
    ]
    ukey = ["file", "function"]
    ug, uc = _keys(gcc.code_functions, ukey), _keys(clang.code_functions, ukey)
    parts += [
        _only(ug, uc, ukey).assign(kind="function", gcc=True, clang=False),
        _only(uc, ug, ukey).assign(kind="function", gcc=False, clang=True),
    ]
    lkey = ["file", "line"]
    lg, lc = _keys(gcc.code_lines, [*lkey, "function"]), _keys(clang.code_lines, lkey)
    only_g = _only(lg, lc, lkey).assign(kind="line", gcc=True, clang=False)
    only_c = _only(lc, lg.loc[:, lkey], lkey).assign(kind="line", gcc=False, clang=True)
    common = lg.loc[:, lkey].merge(lc, on=lkey)
    eg = _keys(gcc.lines, ["test", *lkey]).merge(common, on=lkey)
    ec = _keys(clang.lines, ["test", *lkey]).merge(common, on=lkey)
    parts += [
        only_g,
        only_c,
        _only(eg, ec, ["test", *lkey]).assign(kind="line_executed", gcc=True, clang=False),
        _only(ec, eg, ["test", *lkey]).assign(kind="line_executed", gcc=False, clang=True),
    ]
    diff = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    if diff is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DIFFERENCE_COLUMNS})
    for c in DIFFERENCE_COLUMNS:
        if c not in diff.columns:
            diff[c] = None
    diff["reason"] = _reasons(diff, gcc, sources)
    return diff.loc[:, DIFFERENCE_COLUMNS].sort_values(["kind", "file", "line", "test"], na_position="first")


def _reasons(diff: pd.DataFrame, gcc: CoverageData, sources: _Sources) -> np.ndarray:
    lines = diff[diff["line"].notna()].astype({"line": "int64"})
    facts = _line_facts(lines, sources) if len(lines) else pd.DataFrame(columns=["file", "line"])
    d = diff.reset_index(drop=True).assign(_row=np.arange(len(diff)))
    with_line = d[d["line"].notna()].astype({"line": "int64"}).merge(facts, on=["file", "line"], how="left")
    starts = gcc.code_functions.loc[:, ["file", "line_start"]].astype({"file": str, "line_start": "int64"})
    sig = with_line.merge(starts, left_on=["file", "line"], right_on=["file", "line_start"], how="left")
    is_sig = sig["line_start"].notna().to_numpy()
    reason = np.select(
        [
            (with_line["kind"] == "line").to_numpy() & with_line["gcc"].astype(bool).to_numpy() & is_sig,
            with_line["in_macro"].fillna(False).astype(bool).to_numpy(),
            with_line["brace"].fillna(False).astype(bool).to_numpy()
            & with_line["clang"].astype(bool).to_numpy(),
            with_line["continuation"].fillna(False).astype(bool).to_numpy(),
            ((with_line["kind"] == "line") & with_line["clang"].astype(bool)).to_numpy(),
        ],
        ["signature", "macro", "brace", "continuation", "declaration"],
        default="unexplained",
    )
    out = np.full(len(d), "unexplained", dtype=object)
    out[with_line["_row"].to_numpy()] = reason
    return out


__all__ = ["DIFFERENCE_COLUMNS", "compare_runs"]
