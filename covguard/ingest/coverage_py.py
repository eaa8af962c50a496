"""Python coverage: a coverage.py data file, read through coverage.py's own API, into covguard's frames.

The same frames as the C coverage (:mod:`covguard.frames`), so that the analyser, the gate and
every output treat a Python function like a C function:

* **the code universe** is coverage.py's own analysis of each source file (its
  ``FileReporter``: the statements, the possible arcs and the exits of every line), not a
  parse of covguard's.  ``code_lines`` are the statements inside functions, with the function
  that owns them (:mod:`covguard.trace.python_ast`); ``code_functions`` every function of every
  file in ``python.sources``, imported or not: a module no test imported counts with every
  function unexecuted, never as missing; ``code_branches`` the possible arcs out of every line
  with more than one exit, numbered in the order of their destination lines.
* **per-test rows** come from coverage.py's dynamic contexts: one query per (context, file)
  pair through :meth:`coverage.CoverageData.set_query_context`, ``lines`` and ``arcs``, with
  the reporter's ``translate_lines``/``translate_arcs`` (a multi-line statement counts at its
  first line, as in coverage.py's reports).  Each context belongs to a test through
  :func:`context_unit`: pytest-cov's ``--cov-context=test`` labels (``<nodeid>|setup``,
  ``|run``, ``|teardown``, what covguard's pytest plugin writes) are one test each, a
  ``dynamic_context = test_function`` label (``module.Class.test_name``) is its own test, and
  the empty context (import time, collection) is no test: it counts in the totals only.

coverage.py records whether a line ran, not how often: ``count`` is 1 in the per-test frames
and, in the universe, the number of contexts that executed the line, branch or function.

Exclusions: covguard counts every statement coverage.py sees and honours none of its exclusion
pragmas (``# pragma: no cover``, ``# pragma: no branch``): an exclusion would let untraced code
hide from the trace analysis.  Code that is deliberately untraced or untested takes a
``# @justify CATEGORY: reason``, as in C.  coverage.py's language rules stay (``while True:``
has one exit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from covguard.errors import CoverageDataError, InputError
from covguard.files import display_path, glob_matcher
from covguard.frames import (
    BRANCHES,
    CODE_BRANCHES,
    CODE_FUNCTIONS,
    CODE_LINES,
    FUNCTIONS,
    LINES,
    CoverageData,
    conform,
)
from covguard.trace.python_ast import PyFunction, functions_of, owners, parse

if TYPE_CHECKING:  # coverage.py is imported when Python coverage is read, not at every start-up
    import coverage
    from coverage.python import PythonFileReporter

ORIGIN = "host-python"
PHASES = ("setup", "run", "teardown")
_HINT = "run the suite through 'covguard test' (or coverage.py with per-test contexts) again"


def context_unit(label: str) -> str | None:
    """The test a coverage.py context label belongs to; ``None`` for the empty context.

    ``tests/test_x.py::test_a[1]|run`` -> ``tests/test_x.py::test_a[1]`` (pytest-cov and
    covguard's plugin); any other label (``test_x.test_a`` from ``test_function``) is itself.
    """
    if not label:
        return None
    head, sep, phase = label.rpartition("|")
    return head if sep and phase in PHASES and head else label


def source_files(root: Path, include: Sequence[str], exclude: Sequence[str] = ()) -> list[Path]:
    """The ``.py`` files under ``root`` matching the globs (relative to ``root``), sorted."""
    match = glob_matcher(include, exclude)
    found: set[Path] = set()
    for pattern in include:
        head = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
        base = root / head.rsplit("/", 1)[0] if "/" in head else root
        if (root / head).is_file():
            candidates = [root / head]
        elif base.is_dir():
            candidates = list(base.rglob("*.py"))
        else:
            candidates = []
        found.update(p for p in candidates if p.is_file() and match(display_path(p, root)))
    return sorted(found)


@dataclass
class _Item:
    """One source file of the universe: its reporter, functions and what it can execute."""

    display: str
    reporter: PythonFileReporter
    functions: list[PyFunction]
    statements: np.ndarray  # statements owned by a function, sorted
    owner: np.ndarray  # index into functions, per statement
    branches: pd.DataFrame  # line, to, branch: the possible arcs out of branch lines


def _reporter_settings() -> coverage.Coverage:
    """A Coverage object that only configures the reporters: no exclusions, no partial pragmas."""
    import coverage

    cov = coverage.Coverage(config_file=False, data_file=None)
    cov.set_option("report:exclude_lines", [])
    cov.set_option("report:partial_branches", [])
    return cov


def _item(path: Path, root: Path, cov: coverage.Coverage) -> _Item:
    from coverage.exceptions import CoverageException
    from coverage.python import PythonFileReporter

    shown = display_path(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the Python source: {exc}", path=shown) from None
    functions = functions_of(parse(text, shown))
    reporter = PythonFileReporter(str(path), coverage=cov)
    try:
        statements = np.array(sorted(reporter.lines()), dtype=np.int64)
        exits = reporter.exit_counts()
        possible = sorted(reporter.arcs())
        no_branch = reporter.no_branch_lines()
    except CoverageException as exc:
        raise InputError(f"coverage.py cannot analyse this file: {exc}", path=shown) from None
    owner = owners(statements, functions)
    keep = owner >= 0
    branch_lines = {line for line, n in exits.items() if n > 1} - set(no_branch)
    arcs = pd.DataFrame(possible, columns=["line", "to"], dtype="int64")
    arcs = arcs[arcs["line"].isin(branch_lines) & arcs["line"].isin(statements[keep])]
    arcs = arcs.assign(branch=arcs.groupby("line").cumcount().astype("int64")).reset_index(drop=True)
    return _Item(shown, reporter, functions, statements[keep], owner[keep], arcs)


def _open(data_file: Path) -> coverage.CoverageData:
    import coverage
    from coverage.exceptions import CoverageException

    if not data_file.is_file():
        raise CoverageDataError("no coverage.py data file", path=data_file, hint=_HINT)
    data = coverage.CoverageData(basename=str(data_file))
    try:
        data.read()
        data.measured_files()
    except CoverageException as exc:
        raise CoverageDataError(f"unusable coverage.py data: {exc}", path=data_file, hint=_HINT) from None
    return data


def _measured_names(data: coverage.CoverageData, root: Path) -> dict[Path, str]:
    """Resolved source path -> the file name as the data file records it."""
    out: dict[Path, str] = {}
    for name in data.measured_files():
        p = Path(name)
        out[(p if p.is_absolute() else root / p).resolve()] = name
    return out


def _executions(
    data: coverage.CoverageData | None, items: list[_Item], names: list[str | None]
) -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """Contexts, executed statements (item, line, context) and taken arcs (item, line, to, context)."""
    touched: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name is None or data is None:
            continue
        by_line = data.contexts_by_lineno(name)
        for ctx in pd.Series(list(by_line.values()), dtype=object).explode().dropna().unique():
            touched.setdefault(str(ctx), []).append(i)
    contexts = sorted(touched)
    line_parts: list[pd.DataFrame] = []
    arc_parts: list[pd.DataFrame] = []
    has_arcs = data is not None and data.has_arcs()
    for c, ctx in enumerate(contexts):
        assert data is not None
        data.set_query_context(ctx)
        for i in touched[ctx]:
            item, name = items[i], names[i]
            assert name is not None
            executed = item.reporter.translate_lines(data.lines(name) or [])
            lines = np.intersect1d(np.fromiter(executed, dtype=np.int64), item.statements)
            line_parts.append(pd.DataFrame({"item": i, "line": lines, "context": c}))
            if has_arcs and len(item.branches):
                taken = sorted(item.reporter.translate_arcs(data.arcs(name) or []))
                arcs = pd.DataFrame(taken, columns=["line", "to"], dtype="int64")
                arc_parts.append(arcs.assign(item=i, context=c))
    if data is not None:
        data.set_query_contexts(None)
    lines_df = (
        pd.concat(line_parts, ignore_index=True)
        if line_parts
        else pd.DataFrame({"item": [], "line": [], "context": []}, dtype="int64")
    )
    arcs_df = (
        pd.concat(arc_parts, ignore_index=True)
        if arc_parts
        else pd.DataFrame({"line": [], "to": [], "item": [], "context": []}, dtype="int64")
    )
    return contexts, lines_df, arcs_df


def read_coverage(
    data_file: Path | None,
    files: Sequence[Path],
    *,
    root: Path,
    units: Mapping[str, str] | Callable[[str], str | None] | None = None,
    origin: str = ORIGIN,
    variant: str = "default",
) -> CoverageData:
    """The coverage of ``files`` (the Python sources analysed) in a coverage.py data file.

    ``data_file`` ``None``: no test ran; the universe alone, every function unexecuted.

    ``units`` names the test of each context: a mapping from :func:`context_unit`'s result to
    a test id (contexts it lacks are no test), a function of the raw label, or ``None`` for
    :func:`context_unit` itself.  Raises :class:`CoverageDataError` for a missing or unusable
    data file, and when measured files hold no per-test context at all (coverage.py ran
    without dynamic contexts: every function would look untested).
    """
    cov = _reporter_settings()
    items = [_item(p, root, cov) for p in files]
    if data_file is None:
        names: list[str | None] = [None] * len(files)
        contexts, ex_lines, ex_arcs = _executions(None, items, names)
    else:
        data = _open(data_file)
        measured = _measured_names(data, root)
        names = [measured.get(p.resolve()) for p in files]
        contexts, ex_lines, ex_arcs = _executions(data, items, names)
    unit_of = _unit_function(units)
    ctx_units = [unit_of(c) for c in contexts]
    if any(n is not None for n in names) and contexts and all(u is None for u in ctx_units):
        raise CoverageDataError(
            "the coverage.py data has no per-test contexts: every test would look as if it executed nothing",
            path=data_file,
            hint="measure with '[run] dynamic_context = test_function' or pytest-cov's "
            "'--cov-context=test' (covguard test does this itself)",
        )
    return _frames(items, contexts, ctx_units, ex_lines, ex_arcs, origin, variant)


def _unit_function(
    units: Mapping[str, str] | Callable[[str], str | None] | None,
) -> Callable[[str], str | None]:
    if units is None:
        return context_unit
    if callable(units):
        return units
    table = dict(units)

    def lookup(label: str) -> str | None:
        key = context_unit(label)
        return table.get(key) if key is not None else None

    return lookup


def _universe(items: list[_Item]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Statements, functions and branches of every item, numbered per item."""
    none = np.zeros(0, dtype=np.int64)
    stmts = pd.DataFrame(
        {
            "item": np.concatenate([none, *(np.full(len(it.statements), i) for i, it in enumerate(items))]),
            "line": np.concatenate([none, *(it.statements for it in items)]),
            "fidx": np.concatenate([none, *(it.owner for it in items)]),
        }
    ).astype("int64")
    funcs = pd.DataFrame(
        [
            {
                "item": i,
                "fidx": k,
                "file": it.display,
                "function": f.name,
                "line_start": f.line_start,
                "line_end": f.line_end,
            }
            for i, it in enumerate(items)
            for k, f in enumerate(it.functions)
        ],
        columns=["item", "fidx", "file", "function", "line_start", "line_end"],
    )
    branches = pd.concat(
        [it.branches.assign(item=i) for i, it in enumerate(items)]
        or [pd.DataFrame({"line": [], "to": [], "branch": [], "item": []})],
        ignore_index=True,
    ).astype("int64")
    return stmts, funcs, branches


def _frames(
    items: list[_Item],
    contexts: list[str],
    ctx_units: list[str | None],
    ex_lines: pd.DataFrame,
    ex_arcs: pd.DataFrame,
    origin: str,
    variant: str,
) -> CoverageData:
    stmts, funcs, branches = _universe(items)
    stmts = stmts.merge(funcs.loc[:, ["item", "fidx", "file", "function"]], on=["item", "fidx"], how="left")
    ctx_unit = np.asarray([*ctx_units, None], dtype=object)[:-1]  # 1-d even when empty
    # executions: lines with their function, taken branches
    ex = ex_lines.merge(stmts, on=["item", "line"])
    ex = ex.assign(unit=ctx_unit[ex["context"].to_numpy()])
    taken = ex_arcs.merge(branches, on=["item", "line", "to"])
    taken = taken.assign(unit=ctx_unit[taken["context"].to_numpy()])

    # ---- universe, counts over every context
    per_line = ex.groupby(["item", "line"]).size().rename("count")
    n_branches = branches.groupby(["item", "line"]).size().rename("branches_total")
    code_lines = (
        stmts.join(per_line, on=["item", "line"])
        .join(n_branches, on=["item", "line"])
        .fillna({"count": 0, "branches_total": 0})
    )
    per_func = (
        ex.drop_duplicates(["item", "fidx", "context"]).groupby(["item", "fidx"]).size().rename("count")
    )
    code_functions = funcs.join(per_func, on=["item", "fidx"]).fillna({"count": 0})
    per_branch = taken.groupby(["item", "line", "branch"]).size().rename("count")
    code_branches = branches.join(per_branch, on=["item", "line", "branch"]).fillna({"count": 0})
    code_branches = code_branches.merge(funcs.drop_duplicates("item").loc[:, ["item", "file"]], on="item")

    # ---- per test (contexts of one test merged)
    mine = ex[ex["unit"].notna()].drop_duplicates(["unit", "item", "line"])
    t_br = taken[taken["unit"].notna()].drop_duplicates(["unit", "item", "line", "branch"])
    covered = t_br.groupby(["unit", "item", "line"]).size().rename("branches_covered")
    lines = mine.join(covered, on=["unit", "item", "line"]).join(n_branches, on=["item", "line"])
    lines = lines.fillna({"branches_covered": 0, "branches_total": 0})
    functions = mine.drop_duplicates(["unit", "item", "fidx"]).merge(
        funcs.loc[:, ["item", "fidx", "line_start", "line_end"]], on=["item", "fidx"]
    )
    t_br = t_br.merge(funcs.drop_duplicates("item").loc[:, ["item", "file"]], on="item")

    def per_test(df: pd.DataFrame, contract: dict[str, str]) -> pd.DataFrame:
        out = df.rename(columns={"unit": "test"}).assign(count=1, origin=origin, variant=variant)
        return conform(out, contract)

    return CoverageData(
        lines=per_test(lines, LINES),
        functions=per_test(functions, FUNCTIONS),
        branches=per_test(t_br, BRANCHES),
        code_lines=conform(code_lines.sort_values(["file", "line"], ignore_index=True), CODE_LINES),
        code_functions=conform(
            code_functions.sort_values(["file", "line_start", "function"], ignore_index=True), CODE_FUNCTIONS
        ),
        code_branches=conform(
            code_branches.sort_values(["file", "line", "branch"], ignore_index=True), CODE_BRANCHES
        ),
    )


__all__ = ["ORIGIN", "context_unit", "read_coverage", "source_files"]
