"""Where ``#line`` directives put compiled code: files that are not C, lines that do not exist.

A generated C file may say ``#line 12 "cases.toml"`` (test definitions), ``#line 6597 "x.c"``
(past the end of a real file) or name a file that is not there.  The compiler, and gcov, then
report code in those places.  covguard:

* lexes for tags only C and C++ files (and Python items); any other file that coverage names is
  reported once, as a warning, and never read as C;
* drops code placed past the end of a file - those lines and functions do not exist - and
  reports it once per file with the ``#line`` directive that put it there, when a compiled
  source holds one;
* reports a file that coverage names but that does not exist once, as a warning, and leaves its
  code out (gcovr's reports leave it out too: the same numbers everywhere).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from covguard.frames import CoverageData
from covguard.trace.python_ast import is_python
from covguard.trace.source import Problem

C_FAMILY = (
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".cxx",
    ".c++",
    ".hh",
    ".hpp",
    ".hxx",
    ".h++",
    ".i",
    ".ii",
    ".inc",
    ".C",
    ".H",
)


def is_c_family(path: str) -> bool:
    """Whether a file is C or C++ by its name (what covguard lexes for tags)."""
    return path.endswith(C_FAMILY)


def lexable(files: Iterable[str]) -> list[str]:
    """The files covguard reads for tags: C, C++ and Python."""
    return [f for f in files if is_c_family(f) or is_python(f)]


def _line_count(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _origin(name: str, first: int, candidates: Sequence[tuple[str, bytes]]) -> str | None:
    """``file:line`` of a ``#line N "name"`` directive with N at or below ``first``, if any."""
    base = re.escape(Path(name).name.encode())
    pattern = re.compile(rb'^[ \t]*#[ \t]*(?:line[ \t]+)?(\d+)[ \t]+"[^"\n]*' + base + rb'"', re.MULTILINE)
    for shown, text in candidates:
        for m in pattern.finditer(text):
            if int(m.group(1)) <= first:
                line = text.count(b"\n", 0, m.start()) + 1
                return f"{shown}:{line}"
    return None


def _distinct(files: pd.Series) -> set[str]:
    """The distinct names of a ``file`` column, as text (one conversion per name, not per row)."""
    return set(pd.Series(files.unique()).astype(str).tolist())


def _per_row(files: pd.Series, value: dict[str, int]) -> np.ndarray:
    """``value`` of each row's file (NaN for a file it does not name), looked up once per distinct
    file: through a categorical column's codes, else through :func:`pandas.factorize`."""
    if isinstance(files.dtype, pd.CategoricalDtype):
        codes = files.cat.codes.to_numpy()
        names = files.cat.categories.astype(str).tolist()
    else:
        codes, uniques = pd.factorize(files)
        names = pd.Index(uniques).astype(str).tolist()
    table = np.array([value.get(n, np.nan) for n in names] + [np.nan], dtype="float64")
    return table[codes]  # code -1 (a missing name): the last entry, NaN


def bound_to_files(
    data: CoverageData,
    root: Path,
    compiled: Callable[[], Sequence[tuple[str, bytes]]] = tuple,
    read: dict[str, bytes] | None = None,
) -> tuple[CoverageData, list[Problem]]:
    """``data`` without code past the end of its file; the problems with the files coverage names.

    ``compiled``: (shown name, text) of the sources to search for the ``#line`` directives
    (called only when code lies past the end of a file).  ``read``, when given, receives the
    bytes of every file read (by shown name), for the caller's own reading of them."""
    files = sorted(_distinct(data.code_lines["file"]) | _distinct(data.code_functions["file"]))
    problems: list[Problem] = []
    last: dict[str, int] = {}
    missing: set[str] = set()
    for shown in files:
        path = Path(shown) if shown.startswith("/") else root / shown
        try:
            text = path.read_bytes()
        except OSError:
            problems.append(
                Problem(
                    shown,
                    0,
                    "warning",
                    f"{shown} is named by the compiled code (a #line directive?) but does not exist: "
                    "its code is not analysed (gcovr's reports leave it out too)",
                )
            )
            last[shown] = 0
            missing.add(shown)
            continue
        last[shown] = _line_count(text)
        if read is not None:
            read[shown] = text
        if not is_c_family(shown) and not is_python(shown):
            problems.append(
                Problem(
                    shown,
                    0,
                    "warning",
                    f"{shown} is not C or C++ but the compiled code places lines in it (a #line "
                    "directive): it is not read for tags",
                )
            )
    if not last:
        return data, problems

    def beyond(frame: pd.DataFrame, column: str) -> np.ndarray:
        limit = _per_row(frame["file"], last)
        return np.asarray(frame[column].to_numpy() > np.nan_to_num(limit, nan=np.inf))

    cl = data.code_lines
    past = cl[beyond(cl, "line")]
    candidates = compiled() if not past.empty else ()
    for shown, rows in past.groupby(past["file"].astype(str), observed=True):
        if shown in missing:
            continue
        lo, hi = int(rows["line"].min()), int(rows["line"].max())
        where = _origin(shown, lo, candidates)
        problems.append(
            Problem(
                shown,
                lo,
                "error",
                f"lines {lo}-{hi} of {shown} do not exist (the file has {last[shown]} lines): "
                + (
                    f"the #line directive at {where} places code there"
                    if where
                    else "a #line directive places code there"
                )
                + "; that code is not analysed",
            )
        )
    if past.empty:
        return data, problems
    trimmed = replace(
        data,
        lines=data.lines[~beyond(data.lines, "line")],
        branches=data.branches[~beyond(data.branches, "line")],
        code_lines=cl[~beyond(cl, "line")],
        code_branches=data.code_branches[~beyond(data.code_branches, "line")],
        functions=data.functions[~beyond(data.functions, "line_start")],
        code_functions=data.code_functions[~beyond(data.code_functions, "line_start")],
    )
    return trimmed, problems
