"""``findings.json``: covguard's one machine-readable contract (schema ``covguard.findings/1``).

Every other output (console, HTML, SARIF, Markdown, trace matrix) renders from the same view, so
they cannot disagree.  The document holds no timestamp: the same inputs give the same bytes.

Top level: ``schema``, ``tool``, ``summary``, ``requirements``, ``functions``, ``tests``,
``findings``, ``gate`` (and ``problems``: notes about the inputs).  See README.md for each field.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from covguard import __version__
from covguard.analysis.analyse import Analysis
from covguard.analysis.verdict import GateResult
from covguard.frames import few_collections, records
from covguard.model import percent
from covguard.report.json_table import ENCODE, Table

SCHEMA = "covguard.findings/1"

_PLAIN_KINDS = (type(None), str, int, bool)  # JSON-ready as they are


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN/NA to None, tuples to lists (common types first)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple or kind is np.ndarray:
        return [_plain(v) for v in value]
    if kind is float or isinstance(value, np.floating):
        f = float(value)
        return None if math.isnan(f) else round(f, 4)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _nan_none(value: Any) -> Any:
    """None for a missing value (NaN, pd.NA), the value itself otherwise."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return _plain(value) if isinstance(value, np.generic) else value


def _pct(num: int, den: int) -> float | None:
    return percent(num, den)  # one rounding, as gcovr rounds


def findings_document(analysis: Analysis, gate: GateResult | None = None) -> dict[str, Any]:
    """The findings document of ``analysis`` (and ``gate``), built once and then reused: every
    output of one run renders from this same object."""
    key = f"findings_document:{id(gate)}"
    cached = analysis.cache.get(key)
    if cached is None:
        cached = analysis.cache[key] = _document(analysis, gate, Table.dicts)
    return dict(cached)


def summary_view(analysis: Analysis, gate: GateResult | None = None, *, head: int) -> dict[str, Any]:
    """What the terminal summary (:func:`covguard.report.console.render_summary`) reads of the
    findings document, without a dict per record of it: the summary, the first ``head`` findings
    with the number of all and their widest kind, the tests credited per executable, and (MC/DC
    runs only) the requirements.  The document itself when an output has made it already."""
    made = analysis.cache.get(f"findings_document:{id(gate)}")
    if made is not None:
        return dict(made)
    tables = _tables(analysis)
    summary = _tabled(analysis.summary, Table.dicts)
    findings = tables["findings"]
    kinds = findings.column("kind") if findings.rows else []
    tests = tables["tests"]
    coarse = [
        {"executable": exe, "attribution": how}
        for exe, how in zip(tests.column("executable"), tests.column("attribution"), strict=True)
        if how == "executable"
    ]
    mcdc = "mcdc" in summary.get("coverage", {})
    return {
        "summary": summary,
        "requirements": tables["requirements"].dicts() if mcdc else [],
        "tests": coarse,
        "findings": findings.head(head).dicts(),
        "findings_total": findings.rows,
        "findings_kind_width": max(map(len, kinds), default=0),
    }


def _tables(analysis: Analysis) -> dict[str, Table]:
    """The document's four large arrays as tables, built once per analysis frames (the gate's
    baseline replaces the findings frame with one that marks each finding new or existing)."""
    frames = (analysis.requirements, analysis.functions, analysis.tests, analysis.findings)
    cached = analysis.cache.get("findings_tables")
    if (
        cached is None
        or cached[1] != analysis.mcdc_measured
        or any(a is not b for a, b in zip(cached[0], frames, strict=True))
    ):
        tables = {
            "requirements": _requirements(analysis.requirements, analysis.mcdc_measured),
            "functions": _functions(analysis.functions, analysis.mcdc_measured),
            "tests": _tests(analysis.tests),
            "findings": _findings(analysis.findings),
        }
        cached = analysis.cache["findings_tables"] = (frames, analysis.mcdc_measured, tables)
    return dict(cached[2])


def _document(analysis: Analysis, gate: GateResult | None, finish: Callable[[Table], Any]) -> dict[str, Any]:
    """The document, each array of records made by ``finish`` from its table (its dicts, or its
    records' text).  The large arrays hold plain Python values already (columns go through
    ``tolist``); the small parts go through ``_plain``."""
    tables = _tables(analysis)
    doc = {
        "schema": SCHEMA,
        "tool": {"name": "covguard", "version": __version__},
        "summary": _tabled(analysis.summary, finish),
        "requirements": finish(tables["requirements"]),
        "functions": finish(tables["functions"]),
        "tests": finish(tables["tests"]),
        "findings": finish(tables["findings"]),
        "gate": _gate(gate, finish) if gate is not None else None,
        "problems": _tabled(analysis.problems, finish),
    }
    if analysis.justifications is not None:  # only with a justification ledger (covguard justify)
        doc["justifications"] = _tabled(records(analysis.justifications), finish)
    return doc


def _gate(gate: GateResult, finish: Callable[[Table], Any]) -> dict[str, Any]:
    """``_tabled(gate.to_json(), finish)``, its failures made from the gate's columns (one failure
    per function under its threshold: no dict per failure on the way)."""
    columns = gate.failure_columns()
    failures: Any = []  # _plain of an empty list
    if columns["check"]:
        failures = Table(len(columns["check"]))
        for key, values in columns.items():
            failures.add(key, _plain_column(values))
        failures = finish(failures)
    return {"passed": gate.passed, "failures": failures, "checks": gate.check_count}


def _tabled(value: Any, finish: Callable[[Table], Any]) -> Any:
    """``_plain(value)``, with each array of records reached through objects (the gate's
    failures: one per function under its threshold) made column by column: a table, then
    ``finish`` of it, when every record has the same string keys in the same order."""
    if type(value) is dict:
        return {str(k): _tabled(v, finish) for k, v in value.items()}
    if type(value) is list and value and all(type(v) is dict for v in value):
        keys = list(value[0])
        if all(type(k) is str for k in keys) and all(list(v) == keys for v in value):
            table = Table(len(value))
            for key in keys:
                table.add(key, _plain_column([v[key] for v in value]))
            return finish(table)
    return _plain(value)


def _plain_column(values: list[Any]) -> list[Any]:
    """``_plain`` of each value (the column itself when it holds plain values only)."""
    kinds = set(map(type, values))
    if kinds <= set(_PLAIN_KINDS):
        return values
    if kinds <= {float, *_PLAIN_KINDS}:  # numbers, some of them float
        rounded = _rounded([v for v in values if type(v) is float])
        return [rounded.get(v, v) if type(v) is float else v for v in values]
    if kinds == {list} and set(map(type, itertools.chain.from_iterable(values))) <= set(_PLAIN_KINDS):
        return list(map(list, values))  # lists of plain values (names, ids)
    return [v if type(v) in _PLAIN_KINDS else _plain(v) for v in values]


def _rounded(floats: list[float]) -> dict[float, float | None]:
    """``_plain`` of each distinct float of ``floats`` (``round`` once per value, not per row: the
    gate's percentages repeat).  Zeros are left out: 0.0 and -0.0 are one key but keep their own
    sign, and ``_plain`` of each is itself; a NaN is found by identity."""
    return {f: None if math.isnan(f) else round(f, 4) for f in set(floats) if f != 0}


def _column(df: pd.DataFrame, name: str, default: Any = None) -> list[Any]:
    """Column ``name`` as plain Python values (``default`` in every row when there is none)."""
    return df[name].tolist() if name in df.columns else [default] * len(df)


def _ints(df: pd.DataFrame, name: str, default: int = 0) -> list[int] | np.ndarray:
    """Column ``name`` as integers: an integer column's array as it is (the table writes its
    texts from the array, its dicts from ``tolist``), any other column's values as Python ints."""
    if name in df.columns and df[name].dtype.kind in "iu":
        return df[name].to_numpy()
    return list(map(int, _column(df, name, default)))


def _listed(values: list[Any] | np.ndarray) -> list[Any]:
    """Plain Python values (an array's ``tolist``)."""
    return values.tolist() if isinstance(values, np.ndarray) else values


def _percents(verified: list[int], total: list[int]) -> list[float | None]:
    """``_pct`` of each pair, computed once per distinct pair (most functions share a few)."""
    pairs = list(zip(verified, total, strict=True))
    done = {pair: _pct(*pair) for pair in set(pairs)}
    return list(map(done.__getitem__, pairs))


def _nan_nones(values: list[Any]) -> list[Any]:
    """``_nan_none`` of each value (the column itself when it holds no float and no numpy value)."""
    if set(map(type, values)) <= {type(None), bool, str, int}:
        return values
    return list(map(_nan_none, values))


def _coverage(df: pd.DataFrame, names: Sequence[str], mcdc: bool) -> Table:
    """A record's ``coverage`` object: the counts ``names`` (and, with ``mcdc``, the
    requirement-based MC/DC numbers: measured only with clang)."""
    table = Table(len(df))
    for name in names:
        if name in ("line", "branch"):  # the percentage of the two counts before it
            verified, total = (table.columns[-1][1], table.columns[-2][1])
            table.add(name, _percents(_listed(verified), _listed(total)))  # type: ignore[arg-type]
        else:
            table.add(name, _ints(df, name))
    if mcdc:
        total, verified = _ints(df, "conditions_total"), _ints(df, "conditions_verified")
        table.add("conditions_total", total)
        table.add("conditions_verified", verified)
        table.add("mcdc", _percents(_listed(verified), _listed(total)))
    return table


def _requirements(df: pd.DataFrame, mcdc: bool) -> Table:
    table = Table(len(df))
    for name in ("id", "title", "safety_class", "status", "source"):
        table.add(name, _column(df, name))
    table.add("line", _ints(df, "line"))
    for name in ("implemented_by", "verified_by", "failing_tests"):
        table.add(name, list(map(list, _column(df, name))))
    names = ("lines_total", "lines_verified", "line", "branches_total", "branches_verified", "branch")
    table.add("coverage", _coverage(df, names, mcdc))
    # ``parent`` and ``verified_through`` (children that verify it) only for a requirement that
    # has them: files without a hierarchy give the same document as before
    parent = _column(df, "parent")
    table.add("parent", parent, [isinstance(p, str) for p in parent])
    through = _column(df, "verified_through")
    has = [isinstance(t, list) and bool(t) for t in through]
    table.add("verified_through", [list(t) if h else t for t, h in zip(through, has, strict=True)], has)
    return table


def _functions(df: pd.DataFrame, mcdc: bool) -> Table:
    table = Table(len(df))
    table.add("file", _column(df, "file"))
    table.add("function", _column(df, "function"))
    table.add("line_start", _ints(df, "line_start"))
    table.add("line_end", _ints(df, "line_end"))
    table.add("requirements", list(map(list, _column(df, "requirements"))))
    table.add("safety_class", _column(df, "safety_class"))
    table.add("class", _column(df, "class"))
    table.add("executed", list(map(bool, _column(df, "executed"))))
    table.add("executed_by", _ints(df, "executed_units"))
    table.add("reachable", _nan_nones(_column(df, "reachable")))
    table.add("image", _nan_nones(_column(df, "image")))
    table.add("justification", [j or None for j in _column(df, "justification")])
    table.add("verified_on", list(map(list, _column(df, "verified_on", []))))
    names = ("lines_total", "lines_executed", "lines_verified", "branches_total", "branches_executed",
             "branches_verified")  # fmt: skip
    table.add("coverage", _coverage(df, names, mcdc))
    return table


def _tests(df: pd.DataFrame) -> Table:
    table = Table(len(df))
    table.add("id", _column(df, "test"))
    for name in ("executable", "name", "status"):
        table.add(name, _column(df, name))
    table.add("duration_s", _nan_nones(_column(df, "duration_s")))
    table.add("message", _column(df, "message"))
    table.add("file", _column(df, "file"))
    table.add("line", _ints(df, "line"))
    table.add(
        "verifies", [[x for x in str(v).replace(",", " ").split() if x] for v in _column(df, "verifies")]
    )
    table.add("coverage", _column(df, "coverage"))
    table.add("attribution", _column(df, "attribution", "test"))
    table.add("origin", _column(df, "origin", "host"))
    table.add("variant", _column(df, "variant", "default"))
    return table


def _findings(df: pd.DataFrame) -> Table:
    """Every column of the findings as JSON-ready values (``_plain`` of a value of any other
    kind); an empty ``call_path`` or ``decision`` is left out of its record."""
    table = Table(len(df))
    for name in df.columns:
        if df[name].dtype.kind in "iu":  # line, end_line: written from the array
            table.add(str(name), df[name].to_numpy())
            continue
        raw = df[name].tolist()
        values = _plain_column(raw)
        present = list(map(bool, raw)) if name in ("call_path", "decision") else None
        table.add(str(name), values, present)
    return table


@dataclass(frozen=True)
class _Records:
    """An array of records already written as JSON text, one record each."""

    texts: list[str]


def _dump(value: Any, pad: str, out: list[str]) -> None:
    """Append the text of ``value`` (indented by ``pad``) to ``out`` in pieces: the whole document
    is joined once (the arrays of records are most of its megabytes: each piece of them is copied
    twice, not once per level of concatenation)."""
    if isinstance(value, dict) and value:
        inner = pad + "  "
        before = "{\n"  # then the comma after the item before
        for k, v in value.items():
            out.append(f"{before}{inner}{json.dumps(str(k))}: ")
            _dump(v, inner, out)
            before = ",\n"
        out.append("\n" + pad + "}")
    elif isinstance(value, _Records):
        if not value.texts:
            out.append("[]")
            return
        inner = pad + "  "
        out += ("[\n", inner, (",\n" + inner).join(value.texts), "\n" + pad + "]")
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        inner = pad + "  "
        out += ("[\n", ",\n".join(inner + ENCODE(v) for v in value), "\n" + pad + "]")
    else:
        out.append(ENCODE(value))


def dumps(doc: dict[str, Any]) -> str:
    """The document as text: objects indented, and every array of records one record per line.

    One record per line reads and diffs well, and lets the C JSON encoder do the work (with
    ``indent`` Python falls back to its pure-Python encoder, which dominates on large projects).
    """
    out: list[str] = []
    _dump(doc, "", out)
    out.append("\n")
    return "".join(out)


@few_collections
def render(analysis: Analysis, gate: GateResult | None = None) -> str:
    """``findings.json``'s text: ``dumps(findings_document(analysis, gate))``, with the large arrays
    written column by column from their tables (no dict per record on the way)."""
    return dumps(_document(analysis, gate, _records_text))


def _records_text(table: Table) -> _Records:
    return _Records(table.texts())
