"""The DataFrame contracts: every frame that crosses a module boundary, with its columns named here.

Coverage is held *sparsely per test*: a row of ``lines`` says "this test executed this line this
many times"; lines a test did not execute have no row.  The code universe (every executable line
and function of the build, executed or not: the denominator of every percentage) is held apart in
``code_lines`` and ``code_functions``.

``test`` in the coverage frames is the *coverage unit*: for tests written with covguard's C
harness it is the test id itself (``test_bolus::limit_clamps``), because the harness writes
coverage per test case; for suites that only give coverage per executable (Unity) it is
``<executable>::*`` and every test case of that executable maps to it through
``tests.coverage_unit``.

Paths in ``file`` are relative to the project root with ``/`` separators; a file outside the root
keeps its absolute path.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

_P = ParamSpec("_P")
_R = TypeVar("_R")


def few_collections(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` with Python's cyclic garbage collector triggered less often.

    By default a collection starts every 700 new container objects, and every tenth of those walks
    the middle generation: with pandas and a coverage model in memory, building the tens of
    thousands of small lists and dicts of an analysis (one per function, per finding) spent about
    a fifth of the analysis and of writing ``findings.json`` in collections that freed nothing
    (measured at 16k functions).  Reference counting still frees every acyclic object at once;
    the thresholds are restored on return, so a library caller keeps its own settings.
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        old = gc.get_threshold()
        gc.set_threshold(max(old[0], 20_000), max(old[1], 50), max(old[2], 100))
        try:
            return func(*args, **kwargs)
        finally:
            gc.set_threshold(*old)

    return wrapper


# column name -> dtype; "category" columns hold repeated strings cheaply
LINES = {
    "file": "category",
    "line": "int32",
    "function": "category",
    "test": "category",
    "count": "int64",
    "branches_total": "int32",
    "branches_covered": "int32",
    "origin": "category",
    "variant": "category",
}
"""Per-test executed lines: one row per (test, file, line) the test executed (count > 0)."""

FUNCTIONS = {
    "file": "category",
    "function": "category",
    "line_start": "int32",
    "line_end": "int32",
    "test": "category",
    "count": "int64",
    "origin": "category",
    "variant": "category",
}
"""Per-test executed functions: one row per (test, function) the test entered."""

BRANCHES = {
    "file": "category",
    "line": "int32",
    "branch": "int32",
    "test": "category",
    "count": "int64",
    "origin": "category",
    "variant": "category",
}
"""Per-test taken branches: one row per (test, branch) the test took (count > 0)."""

CODE_LINES = {
    "file": "category",
    "line": "int32",
    "function": "category",
    "branches_total": "int32",
    "count": "int64",
}
"""Every executable line of the build; ``count`` is gcov's count over the whole test run."""

CODE_FUNCTIONS = {
    "file": "category",
    "function": "category",
    "line_start": "int32",
    "line_end": "int32",
    "count": "int64",
}
"""Every function of the build (compiler's extents); ``count`` over the whole run."""

CODE_BRANCHES = {
    "file": "category",
    "line": "int32",
    "branch": "int32",
    "count": "int64",
}
"""Every branch of the build (gcov's branch order within a line); ``count`` over the whole run."""

DECISIONS = {
    "file": "category",
    "line": "int32",
    "function": "category",
    "decision": "string",
    "test": "category",
    "conditions_total": "int32",
    "conditions_covered": "int32",
    "uncovered": "string",
    "vectors": "string",
    "origin": "category",
    "variant": "category",
}
"""Per-test MC/DC (clang's source-based coverage only): one row per (test, decision) the test
evaluated.  ``file``/``line`` is where the decision is in its function's file (for a decision in
a macro: the line that expands the macro); ``decision`` its id in the build (a key of
``code_decisions``); ``conditions_total`` the conditions that can be shown independent (constant
folded ones excluded); ``conditions_covered`` those this test's own evaluations show independent;
``uncovered`` the 1-based numbers of the others ("2,3"); ``vectors`` the test vectors it executed,
``;``-separated, one ``T``/``F``/``-`` (not evaluated)/``C`` (constant) per condition, then ``=``
and the outcome: ``"TF-=F;FT-=F"``.  Vectors of several tests unite; independence pairs do not,
which is why requirement-based MC/DC is computed from the vectors."""

CODE_DECISIONS = {
    "file": "category",
    "line": "int32",
    "function": "category",
    "decision": "string",
    "decision_file": "category",
    "decision_line": "int32",
    "decision_column": "int32",
    "end_line": "int32",
    "end_column": "int32",
    "text": "string",
    "conditions": "string",
    "condition_texts": "string",
    "expression": "string",
    "folded": "string",
    "conditions_total": "int32",
    "conditions_covered": "int32",
    "uncovered": "string",
    "vectors": "string",
    "note": "string",
}
"""Every decision of the build with MC/DC instrumentation (clang only).  ``decision_file``,
``decision_line``/``decision_column`` to ``end_line``/``end_column`` is the decision's own source
region (in a macro's definition for a decision in a macro) and ``text`` its source (white space
collapsed); ``conditions`` where each condition starts, ``"line:column"`` space separated, in
condition order (llvm-cov's C1, C2, ...), ``condition_texts`` their source, tab separated;
``expression`` the decision's structure in condition numbers (``"(1 && 2) || 3"``, empty when
covguard cannot parse the text); ``folded`` the constant-folded conditions ("3"); the coverage
columns are over the whole run (every test, as ``llvm-cov`` shows it).  ``note`` is empty, or says
why clang did not instrument the decision (a condition holding a nested boolean expression): such
a decision counts as one condition never shown independent."""

TESTS = {
    "test": "string",
    "executable": "string",
    "name": "string",
    "status": "category",
    "duration_s": "float64",
    "message": "string",
    "file": "string",
    "line": "int32",
    "verifies": "string",
    "coverage_unit": "string",
    "coverage": "category",
    "origin": "category",
    "variant": "category",
}
"""One row per test case: ``status`` passed|failed|skipped|error, ``verifies`` the requirement
IDs it declares (comma separated), ``coverage`` complete|incomplete|missing|none."""

TEST_STATUSES = ("passed", "failed", "skipped", "error")
COVERAGE_STATES = ("complete", "incomplete", "missing", "none")


def empty(contract: dict[str, str]) -> pd.DataFrame:
    """An empty frame with the contract's columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in contract.items()})


def conform(df: pd.DataFrame, contract: dict[str, str]) -> pd.DataFrame:
    """``df`` with exactly the contract's columns, in order, cast to the contract's dtypes.

    Raises ``ValueError`` naming the missing columns: a programming error, not a user error.
    """
    missing = [c for c in contract if c not in df.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}; has {list(df.columns)}")
    out = df.loc[:, list(contract)]
    casts = {c: t for c, t in contract.items() if str(out[c].dtype) != t}
    return out.astype(casts) if casts else out


@dataclass
class CoverageData:
    """The coverage of one test run, sparse per test, plus the code universe."""

    lines: pd.DataFrame = field(default_factory=lambda: empty(LINES))
    functions: pd.DataFrame = field(default_factory=lambda: empty(FUNCTIONS))
    branches: pd.DataFrame = field(default_factory=lambda: empty(BRANCHES))
    code_lines: pd.DataFrame = field(default_factory=lambda: empty(CODE_LINES))
    code_functions: pd.DataFrame = field(default_factory=lambda: empty(CODE_FUNCTIONS))
    code_branches: pd.DataFrame = field(default_factory=lambda: empty(CODE_BRANCHES))
    decisions: pd.DataFrame = field(default_factory=lambda: empty(DECISIONS))  # MC/DC, clang only
    code_decisions: pd.DataFrame = field(default_factory=lambda: empty(CODE_DECISIONS))
    notes: list[str] = field(default_factory=list)  # merge rules applied to this data, for the record

    def tests_executing(self, file: str, line: int) -> list[str]:
        """Which tests executed ``file:line`` (a convenience for library users)."""
        rows = self.lines[(self.lines["file"] == file) & (self.lines["line"] == line)]
        return sorted(rows["test"].astype(str).unique())

    def file_totals(self) -> pd.DataFrame:
        """Per file: lines, covered lines, branches, covered branches, functions, covered functions
        (over the whole run: the numbers gcovr reports)."""
        cl = self.code_lines
        lines = cl.groupby("file", observed=True).agg(
            lines=("line", "size"), lines_covered=("count", lambda s: int((s > 0).sum()))
        )
        cb = self.code_branches
        branches = cb.groupby("file", observed=True).agg(
            branches=("branch", "size"), branches_covered=("count", lambda s: int((s > 0).sum()))
        )
        cf = self.code_functions
        functions = cf.groupby("file", observed=True).agg(
            functions=("function", "size"), functions_covered=("count", lambda s: int((s > 0).sum()))
        )
        out = lines.join(branches, how="outer").join(functions, how="outer").fillna(0).astype("int64")
        out.index = out.index.astype(str)
        return out.sort_index()


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``df`` as plain dicts of Python values (for the few places that build messages
    row by row).  Column by column through ``tolist`` rather than ``to_dict``: several times faster."""
    cols = [str(c) for c in df.columns]
    values = [df[c].tolist() for c in df.columns]
    return [dict(zip(cols, row, strict=True)) for row in zip(*values, strict=True)]


def merge_coverage(parts: list[CoverageData]) -> CoverageData:
    """One :class:`CoverageData` from several runs (host and target, C and Python, CI shards).

    Per-test frames are concatenated (each row keeps its ``origin``/``variant``; test ids must
    already be unique across the parts).  The code universes are united: a line, function or
    branch known to several parts appears once, with the counts added, the widest function
    extent, and the largest branch total (a line compiled for two targets may differ).
    """
    if len(parts) == 1:
        return parts[0]

    def cat(name: str, contract: dict[str, str]) -> pd.DataFrame:
        frames = [getattr(p, name) for p in parts if len(getattr(p, name))]
        if not frames:
            return empty(contract)
        plain = {c: "object" for c, t in contract.items() if t == "category"}
        out = pd.concat([f.astype(plain) for f in frames])
        return conform(out.reset_index(drop=True), contract)

    code_lines = cat("code_lines", CODE_LINES)
    code_lines = (
        code_lines.astype({"file": object, "function": object})
        .groupby(["file", "line"], as_index=False, sort=True)
        .agg(function=("function", "first"), branches_total=("branches_total", "max"), count=("count", "sum"))
    )
    all_functions = cat("code_functions", CODE_FUNCTIONS).astype({"file": object, "function": object})
    code_functions = (
        all_functions.groupby(["file", "function"], as_index=False, sort=False)
        .agg(
            line_start=("line_start", "min"),
            line_end=("line_end", "max"),
            count=("count", "sum"),
            starts=("line_start", "nunique"),
            ends=("line_end", "nunique"),
        )
        .sort_values(["file", "line_start", "function"], ignore_index=True)
    )
    differing = code_functions[(code_functions["starts"] > 1) | (code_functions["ends"] > 1)]
    notes = [n for p in parts for n in p.notes] + [
        f"{r['file']}: function '{r['function']}' has different extents in the merged runs: merged as lines "
        f"{r['line_start']}-{r['line_end']}, counts added"
        for r in records(differing)
    ]
    code_branches = (
        cat("code_branches", CODE_BRANCHES)
        .astype({"file": object})
        .groupby(["file", "line", "branch"], as_index=False, sort=True)
        .agg(count=("count", "sum"))
    )
    code_decisions = cat("code_decisions", CODE_DECISIONS)
    if len(code_decisions):  # one decision known to several runs: its vectors united
        from covguard.ingest.mcdc_vectors import unite_decisions

        code_decisions = conform(unite_decisions(code_decisions), CODE_DECISIONS)
    return CoverageData(
        lines=cat("lines", LINES),
        functions=cat("functions", FUNCTIONS),
        branches=cat("branches", BRANCHES),
        code_lines=conform(code_lines, CODE_LINES),
        code_functions=conform(code_functions, CODE_FUNCTIONS),
        code_branches=conform(code_branches, CODE_BRANCHES),
        decisions=cat("decisions", DECISIONS),
        code_decisions=code_decisions,
        notes=notes,
    )


def grouped_lists(
    df: pd.DataFrame, keys: list[str], value: str, *, sort: bool = True, sort_keys: bool = True
) -> dict[Any, list[Any]]:
    """For each key (a tuple when there are several key columns), the distinct values: sorted, or
    in the order they first appear (``sort=False``).  With ``sort``, the keys are sorted too,
    unless ``sort_keys=False``: for a caller that only looks keys up, sorting ten thousand function
    names (which costs more than the rest) buys nothing; each key's list is sorted all the same.

    pandas' ``groupby().agg(list)`` calls Python once per group; this walks the rows once, which
    is an order of magnitude faster for tens of thousands of groups.  Rows are deduplicated and
    sorted on integer codes of the columns (:func:`_coded_rows`) when they allow it.
    """
    rows = _coded_rows(df, [*keys, value], sort, sort_keys)
    if rows is None:
        d = df.loc[:, [*keys, value]].drop_duplicates()
        if sort:
            d = d.sort_values([*keys, value] if sort_keys else value, kind="stable")
        values = d[value].tolist()
        columns = [d[k].tolist() for k in keys]
    else:
        values, *columns = rows
    ks: list[Any] = columns[0] if len(keys) == 1 else list(zip(*columns, strict=True))
    out: dict[Any, list[Any]] = {}
    for k, v in zip(ks, values, strict=True):
        bucket = out.get(k)
        if bucket is None:
            out[k] = [v]
        else:
            bucket.append(v)
    return out


def _coded_rows(
    df: pd.DataFrame, columns: list[str], sort: bool, sort_all: bool = True
) -> list[list[Any]] | None:
    """The distinct rows of ``df[columns]`` (the first of equal rows, in row order; sorted by the
    columns in order with ``sort``, by the last column only without ``sort_all``), as one list per
    column, the last column first: what ``drop_duplicates`` and a stable ``sort_values`` give,
    computed on the codes of
    :func:`pandas.factorize` (sorted codes order as the values sort).  ``None`` when a column
    holds a missing value, or, to sort, a value that is not text: the caller then takes pandas'
    own path (missing values sort last there, and mixed types have no order here)."""
    codes: list[np.ndarray] = []
    uniques: list[Any] = []
    for i, c in enumerate(columns):
        column = df[c]
        sorted_here = sort and (sort_all or i == len(columns) - 1)
        if sorted_here and not _all_text(column):
            return None
        code, unique = pd.factorize(column, sort=sorted_here)
        if len(code) and int(code.min()) < 0:
            return None
        codes.append(code.astype(np.int64))
        uniques.append(unique)
    n = len(df)
    if not n:
        return [[] for _c in columns]
    key = np.zeros(n, dtype=np.int64)
    for code, unique in zip(codes, uniques, strict=True):  # one int per row: the tuple of codes
        width = max(len(unique), 1)
        if key.max(initial=0) >= (1 << 62) // width:
            key = pd.factorize(key, sort=True)[0].astype(np.int64)
        key = key * width + code
    first = np.flatnonzero(~pd.Series(key).duplicated().to_numpy())
    ranks = key if sort_all else codes[-1]  # the sorted codes of every column, or of the last one
    order = first[np.argsort(ranks[first], kind="stable")] if sort else first
    out = [list(np.asarray(u, dtype=object)[code[order]]) for code, u in zip(codes, uniques, strict=True)]
    return [out[-1], *out[:-1]]


def _all_text(column: pd.Series) -> bool:
    """Whether every value of ``column`` is a Python ``str`` (text that sorts as text)."""
    if isinstance(column.dtype, pd.StringDtype):
        return True
    if column.dtype != object:
        return False
    return bool(pd.api.types.infer_dtype(column, skipna=False) == "string")


# ---------------------------------------------------------------------------------------------
# the frames between the steps of the analysis (:func:`covguard.analysis.analyse.classify`)
#
# These frames live inside one analysis, so their contracts name *kinds* of column rather than
# exact dtypes (which vary with pandas' version and with a merge that found nothing): ``str``
# text (object or string dtype), ``int`` an integer dtype, ``number`` integer or float (a count
# that a left merge may leave NaN), ``bool``, ``list`` a column of Python lists, ``object``
# anything (True/False/None, dicts).  :func:`check` validates a frame against its contract as it
# leaves a step; the frame may carry further columns.

TAGGED_REQUIREMENTS = {"file": "str", "function": "str", "requirement": "str", "tag_line": "int"}
"""Every ``@req`` tag attached to a product function (one row per function and tag, the
instances of a template included), whether its requirement is known or not."""

FUNCTION_REQUIREMENTS = TAGGED_REQUIREMENTS
"""The ``@req`` tags naming a known requirement: one row per (file, function, requirement)."""

ANALYSED_TESTS = {
    "test": "str",
    "executable": "str",
    "name": "str",
    "status": "str",
    "duration_s": "number",
    "message": "str",
    "file": "str",
    "line": "int",
    "verifies": "str",
    "coverage_unit": "str",
    "coverage": "str",
    "origin": "str",
    "variant": "str",
    "attribution": "str",
}
"""The test cases as the analysis holds them (:data:`TESTS` plus ``attribution``: ``test`` or
``executable``, whose coverage the case has); ``verifies`` lists every requirement the case
verifies, declared to the harness or tagged ``@verifies``; a case that crashed before reporting
its place is placed at its definition."""

TEST_REQUIREMENTS = {"test": "str", "requirement": "str", "source": "str"}
"""What each test verifies: one row per (test, requirement); ``source`` harness|tag."""

FUNCTION_UNITS = {"file": "str", "function": "str", "coverage_unit": "str"}
"""Every execution of a function: one row per (function, coverage unit that entered it)."""

UNIT_REQUIREMENTS = {"coverage_unit": "str", "requirement": "str"}
"""The known requirements that passing tests of each coverage unit verify."""

VERIFYING_EXECUTIONS = {"file": "str", "function": "str", "coverage_unit": "str", "requirement": "str"}
"""Executions of a function by a coverage unit where a passing test verifies ``requirement``,
one of the function's own requirements."""

VERIFYING_UNITS = {"coverage_unit": "str", "file": "str", "function": "str"}
""":data:`VERIFYING_EXECUTIONS` once per (unit, function), whatever the requirement."""

FUNCTION_FACTS = {
    "file": "str",
    "function": "str",
    "line_start": "int",
    "line_end": "int",
    "requirements": "list",
    "traced": "bool",
    "safety_class": "str",
    "executed_units": "int",
    "executed": "bool",
    "verifying_units": "number",
    "verified_exec": "bool",
    "verified_on": "list",
    "verified_on_target": "bool",
    "target_code": "bool",
    "failing_exec": "bool",
    "reachable": "object",
    "call_path": "list",
    "image": "object",
}
"""One row per function of the build with the facts that decide its class: its requirements
(sorted) and the highest safety class among them; how many coverage units executed it, how many
verify it (NaN for none), the origins of its verifying executions; ``failing_exec`` a failing
test of its requirement executed it; ``reachable`` True/False/None (unknown), with the shortest
``call_path`` from an entry point and its ``image`` entry (a dict, or None)."""

JUSTIFICATION_SCOPES = {
    "file": "str",
    "function": "object",
    "scope": "str",
    "scope_start": "int",
    "scope_end": "int",
    "category": "str",
    "reason": "str",
    "source": "str",
    "justified": "bool",
    "marker": "int",
}
"""Justified and excluded line ranges (:func:`covguard.analysis.lines.scopes`): ``scope``
function|line|region, ``source`` justify|exclusion, ``justified`` False for an exclusion marker
without a ``@justify``, ``marker`` the tag's line."""

FUNCTION_CLASSES = {
    **FUNCTION_FACTS,
    "category": "str",
    "reason": "str",
    "justified": "bool",
    "class": "str",
}
""":data:`FUNCTION_FACTS` with the function-scope justification (``category``/``reason``, NaN
for none) and the ``class``: justified|dead|rogue|verified|incidental|traced_untested."""

LINE_CLASSES = {
    "file": "str",
    "line": "int",
    "function": "str",
    "count": "int",
    "branches_total": "int",
    "tests": "int",
    "executed": "bool",
    "verified": "bool",
    "branches_covered_any": "int",
    "branches_verified": "int",
    "justification": "str",
    "excluded": "bool",
    "justified_marker": "bool",
    "function_class": "str",
    "class": "str",
}
"""Every executable line of the build (:func:`covguard.analysis.lines.classify_lines`): ``tests``
the coverage units that executed it, ``class`` verified|incidental|unexecuted|justified|excluded."""

FUNCTION_COVERAGE = {
    **FUNCTION_CLASSES,
    "lines_total": "int",
    "lines_executed": "int",
    "lines_verified": "int",
    "branches_total": "int",
    "branches_executed": "int",
    "branches_verified": "int",
}
""":data:`FUNCTION_CLASSES` with each function's line and branch numbers, justified and excluded
lines not counted."""

REQUIREMENT_STATUSES = {
    "id": "str",
    "title": "str",
    "safety_class": "str",
    "source": "str",
    "line": "int",
    "implemented_by": "list",
    "verified_by": "list",
    "failing_tests": "list",
    "executed_by_tests": "bool",
    "lines_total": "int",
    "branches_total": "int",
    "lines_verified": "int",
    "branches_verified": "int",
    "line_coverage": "number",
    "branch_coverage": "number",
    "status": "str",
}
"""One row per requirement: who implements it (``{file, function}`` dicts) and verifies it, its
requirement-based line and branch coverage (NaN without lines), and its ``status``
failing|unimplemented|unverified|hollow|verified (rolled up the hierarchy: see
:mod:`covguard.analysis.hierarchy`, which adds ``parent`` and ``verified_through``)."""

_KINDS: dict[str, Callable[[Any], bool]] = {
    "str": lambda d: pd.api.types.is_string_dtype(d) or pd.api.types.is_object_dtype(d),
    "int": pd.api.types.is_integer_dtype,
    "number": lambda d: pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d),
    "bool": pd.api.types.is_bool_dtype,
    "list": pd.api.types.is_object_dtype,
    "object": lambda d: True,
}


def check(df: pd.DataFrame, contract: dict[str, str], what: str) -> pd.DataFrame:
    """``df`` itself, once checked against ``contract`` (column -> kind, see above): raises
    ``ValueError`` naming the missing columns, or a column of another kind (not checked on an empty
    frame, whose dtypes are pandas' guesses).  A programming error, not a user error."""
    missing = [c for c in contract if c not in df.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}; has {list(df.columns)}")
    if len(df):
        wrong = [f"{c} ({df[c].dtype}, not {k})" for c, k in contract.items() if not _KINDS[k](df[c].dtype)]
        if wrong:
            raise ValueError(f"{what} frame has columns of the wrong kind: {', '.join(wrong)}")
    return df
