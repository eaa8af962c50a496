"""llvm-cov's export (``llvm-cov export -format=text``) as covguard's frames: lines, branches,
functions and MC/DC decisions of one test, whether llvm-cov wrote the export
(:mod:`covguard.ingest.llvm_cov`) or covguard decoded the profile itself
(:mod:`covguard.ingest.llvm_native`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from covguard.ingest.collect import merge_variants
from covguard.trace.demangle import demangle

BRANCH_KINDS = (4, 6)  # branch region, MC/DC branch region
CODE_REGION, EXPANSION_REGION = 0, 1
_DECISION_COLUMNS = (
    "file", "line", "column", "function", "decision_path", "decision_file", "decision_line",
    "decision_column", "end_line", "end_column", "n", "flags", "evaluated",
)  # fmt: skip


BRANCH_KINDS = (4, 6)  # branch region, MC/DC branch region


def line_counts(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(line numbers, counts) of the executable lines of one file.

    ``segments``: llvm-cov's ``[line, column, count, has_count, is_region_entry, is_gap]`` rows,
    sorted by position.  For every line L from the first segment's to the last one's: the
    *wrapped* segment is the last one before L; the line is executable when no skipped region
    (a region entry without count) starts it and either the wrapped segment has a count or a
    non-gap region with a count starts on it (or any region entry with a count does); its count
    is the wrapped segment's, raised to the largest count of the non-gap regions starting on it.
    """
    if not len(segments):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    seg_line = segments[:, 0]
    count = segments[:, 2]
    has_count = segments[:, 3] != 0
    entry = segments[:, 4] != 0
    gap = segments[:, 5] != 0
    first, last = int(seg_line[0]), int(seg_line[-1])
    lines = np.arange(first, last + 1, dtype=np.int64)
    n = len(lines)
    off = seg_line - first
    lo = np.searchsorted(seg_line, lines, side="left")
    hi = np.searchsorted(seg_line, lines, side="right")
    on_line = hi > lo
    wrapped = lo - 1  # index of the last segment before the line (-1: none)
    has_wrapped = wrapped >= 0
    w = np.where(has_wrapped, wrapped, 0)
    wrapped_counted = has_wrapped & has_count[w]
    starts = ~gap & has_count & entry
    n_starts = np.bincount(off[starts], minlength=n)
    any_entry_count = np.bincount(off[entry & has_count], minlength=n) > 0
    f = np.where(on_line, lo, 0)
    skipped_start = on_line & ~has_count[f] & entry[f]
    mapped = (~skipped_start & (wrapped_counted | (n_starts > 0))) | any_entry_count
    counts = np.where(has_wrapped, count[w], 0).astype(np.int64)
    start_max = np.zeros(n, dtype=np.int64)
    np.maximum.at(start_max, off[starts], count[starts])
    counts = np.where(n_starts > 0, np.maximum(counts, start_max), counts)
    return lines[mapped], counts[mapped]


@dataclass
class ExportFrames:
    """Dense frames of one export (kept files only; every line, executed or not)."""

    lines: pd.DataFrame  # file, line, count
    branches: pd.DataFrame  # file, line, branch, count
    functions: pd.DataFrame  # file, path, function, line_start, line_end, count
    decisions: pd.DataFrame  # see _decision_rows
    kept_paths: list[str] = field(default_factory=list)  # the kept files, as the mapping names them


def _array(rows: list[list[Any]], width: int) -> np.ndarray:
    if not rows:
        return np.zeros((0, width), dtype=np.int64)
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), -1)[:, :width]


def _file_branches(entry: dict[str, Any]) -> np.ndarray:
    """(line, column, true count, false count) of a file's branch regions; those of macro
    expansions placed where the macro is expanded."""
    parts = []
    br = _array(entry.get("branches") or [], 9)
    if len(br):
        br = br[np.isin(br[:, 8], BRANCH_KINDS)]
        parts.append(br[:, [0, 1, 4, 5]])
    for exp in entry.get("expansions") or []:
        eb = _array(exp.get("branches") or [], 9)
        if not len(eb):
            continue
        eb = eb[np.isin(eb[:, 8], BRANCH_KINDS)]
        src = exp["source_region"]
        placed = np.column_stack(
            [np.full(len(eb), src[0]), np.full(len(eb), src[1]), eb[:, 4], eb[:, 5]]
        ).astype(np.int64)
        parts.append(placed)
    if not parts:
        return np.zeros((0, 4), dtype=np.int64)
    return np.concatenate(parts)


def _branch_columns(br: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, branch, count) of a file's branch regions: true then false, numbered per line."""
    order = np.lexsort((br[:, 1], br[:, 0]))
    br = br[order]
    line = br[:, 0]
    new = np.ones(len(line), dtype=bool)
    new[1:] = line[1:] != line[:-1]
    group_start = np.maximum.accumulate(np.where(new, np.arange(len(line)), 0))
    rank = np.arange(len(line)) - group_start
    return (
        np.repeat(line, 2),
        np.column_stack([2 * rank, 2 * rank + 1]).ravel(),
        np.column_stack([br[:, 2], br[:, 3]]).ravel(),
    )


def short_name(name: str) -> str:
    """A function's name without llvm's ``<file>:`` prefix of local (static) functions."""
    return name.rsplit(":", 1)[-1]


def parse_export(
    data: dict[str, Any], shown: Callable[[str], str], keep: Callable[[str], bool]
) -> ExportFrames:
    """Dense lines, branches, functions and decision structure of one export."""
    return _parse([("", data)], shown, keep, batch=False)


def parse_exports(
    exports: Sequence[tuple[str, dict[str, Any]]], shown: Callable[[str], str], keep: Callable[[str], bool]
) -> ExportFrames:
    """:func:`parse_export` of many units' exports at once: every frame with a ``test`` column
    (the decisions also with ``vectors``, from the native reader's MC/DC records)."""
    return _parse(exports, shown, keep, batch=True)


def _parse(
    exports: Sequence[tuple[str, dict[str, Any]]],
    shown: Callable[[str], str],
    keep: Callable[[str], bool],
    *,
    batch: bool,
) -> ExportFrames:
    line_parts: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    branch_parts: list[tuple[str, str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
    kept_paths: list[str] = []
    fn_rows: list[dict[str, Any]] = []
    decision_rows: list[dict[str, Any]] = []
    for unit, data in exports:
        for entry in data.get("files") or []:
            name = shown(entry["filename"])
            if not keep(name):
                continue
            kept_paths.append(str(entry["filename"]))
            segs = _array(entry.get("segments") or [], 6)
            ln, cnt = line_counts(segs)
            line_parts.append((unit, name, ln, cnt))
            br = _file_branches(entry)
            if len(br):
                branch_parts.append((unit, name, _branch_columns(br)))
        for fn in data.get("functions") or []:
            names = fn.get("filenames") or []
            if not names:
                continue
            file = shown(names[0])
            regions = _array(fn.get("regions") or [], 8)
            own = regions[(regions[:, 5] == 0) & (regions[:, 7] == CODE_REGION)] if len(regions) else regions
            if not len(own):
                continue
            function = short_name(str(fn["name"]))
            if keep(file):
                fn_rows.append(
                    {
                        "file": file,
                        "path": names[0],
                        "function": function,
                        "line_start": int(own[:, 0].min()),
                        "line_end": int(own[:, 2].max()),
                        "count": int(fn.get("count") or 0),
                    }
                )
                if batch:
                    fn_rows[-1]["test"] = unit
            rows = _decision_rows(fn, file, function, regions, names, shown)
            if batch:
                for r in rows:
                    r["test"] = unit
                    r["vectors"] = r.pop("vectors", "")
            decision_rows.extend(rows)
    test = ("test",) if batch else ()
    # one frame per kind (not one per file, then concatenated: the same rows, a fraction of the cost)
    lines = (
        pd.DataFrame(
            {
                "file": _repeat([(n, len(ln)) for _, n, ln, _ in line_parts]),
                "line": np.concatenate([ln for _, _, ln, _ in line_parts]),
                "count": np.concatenate([c for _, _, _, c in line_parts]),
                **({"test": _repeat([(u, len(ln)) for u, _, ln, _ in line_parts])} if batch else {}),
            }
        )
        if line_parts
        else _frame(("file", "line", "count", *test))
    )
    branches = (
        pd.DataFrame(
            {
                "file": _repeat([(n, len(cols[0])) for _, n, cols in branch_parts]),
                "line": np.concatenate([cols[0] for _, _, cols in branch_parts]),
                "branch": np.concatenate([cols[1] for _, _, cols in branch_parts]),
                "count": np.concatenate([cols[2] for _, _, cols in branch_parts]),
                **({"test": _repeat([(u, len(cols[0])) for u, _, cols in branch_parts])} if batch else {}),
            }
        )
        if branch_parts
        else _frame(("file", "line", "branch", "count", *test))
    )
    functions = (
        pd.DataFrame(fn_rows)
        if fn_rows
        else _frame(("file", "path", "function", "line_start", "line_end", "count", *test))
    )
    decisions = (
        pd.DataFrame(decision_rows)
        if decision_rows
        else _frame((*_DECISION_COLUMNS, *(("test", "vectors") if batch else ())))
    )
    # C++: qualified names, as the gcc side names them
    functions["function"] = demangle(functions["function"].astype(str))
    functions = merge_variants(functions, [*test, "file", "path", "function"])  # C1/C2, D0/D1/D2: one
    if "function" in decisions.columns and len(decisions):
        decisions["function"] = demangle(decisions["function"].astype(str))
    return ExportFrames(lines, branches, functions, decisions, kept_paths)


def _repeat(parts: list[tuple[str, int]]) -> np.ndarray:
    out = np.empty(sum(n for _, n in parts), dtype=object)
    at = 0
    for name, n in parts:
        out[at : at + n] = name
        at += n
    return out


def _frame(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _decision_rows(
    fn: dict[str, Any],
    file: str,
    function: str,
    regions: np.ndarray,
    names: list[str],
    shown: Callable[[str], str],
) -> list[dict[str, Any]]:
    """One row per MC/DC record of a function, in the function's order: the decision's own
    region and file, and where it is in the function's file (the macro's use for a decision in a
    macro)."""
    records = fn.get("mcdc_records") or []
    if not records:
        return []
    branches = _array(fn.get("branches") or [], 9)
    mc = branches[branches[:, 8] == 6] if len(branches) else branches
    # expansion regions: expanded file id -> (file id, line, column) where it is expanded
    expansions = {
        int(r[6]): (int(r[5]), int(r[0]), int(r[1])) for r in regions[regions[:, 7] == EXPANSION_REGION]
    }
    seen: dict[tuple[int, int, int, int], int] = {}
    rows: list[dict[str, Any]] = []
    for rec in records:
        l1, c1, l2, c2 = (int(x) for x in rec[:4])
        flags = [bool(x) for x in rec[6]]
        inside = (
            ((mc[:, 0] > l1) | ((mc[:, 0] == l1) & (mc[:, 1] >= c1)))
            & ((mc[:, 0] < l2) | ((mc[:, 0] == l2) & (mc[:, 1] <= c2)))
            if len(mc)
            else np.zeros(0, dtype=bool)
        )
        ids = list(dict.fromkeys(int(x) for x in mc[inside, 6])) if len(mc) else []
        loc = (l1, c1, l2, c2)
        k = seen.get(loc, 0)
        seen[loc] = k + 1
        fid = ids[k] if k < len(ids) else (ids[0] if ids else 0)
        line, column, guard = l1, c1, 0
        cur = fid
        while cur != 0 and cur in expansions and guard < 64:
            cur, line, column = expansions[cur]
            guard += 1
        path = names[fid] if fid < len(names) else names[0]
        rows.append(
            {
                "file": file,
                "line": line,
                "column": column,
                "function": function,
                "decision_path": path,
                "decision_file": shown(path),
                "decision_line": l1,
                "decision_column": c1,
                "end_line": l2,
                "end_column": c2,
                "n": len(flags),
                "flags": tuple(flags),
                "evaluated": bool(len(mc) and (mc[inside, 4].sum() + mc[inside, 5].sum()) > 0),
            }
        )
        if len(rec) > 7:  # the native reader's executed vectors (llvm_native)
            rows[-1]["vectors"] = str(rec[7])
    return rows


@dataclass(frozen=True)
class ShownDecision:
    """One MC/DC block of ``llvm-cov show --show-mcdc``."""

    path: str
    region: tuple[int, int, int, int]
    conditions: tuple[tuple[int, int], ...]  # where each condition starts, C1 first
    vectors: tuple[tuple[str, bool], ...]  # executed test vectors: "TF-", outcome
    pairs: tuple[str, ...]  # per condition: "covered", "not covered" or "constant folded"


@dataclass
class UnitCoverage:
    unit: str
    frames: ExportFrames
    vectors: list[str]  # per decision (listing order of frames.decisions): "TF-=T;..."
    shown: list[ShownDecision]


__all__ = ["ExportFrames", "ShownDecision", "UnitCoverage", "line_counts", "parse_export", "parse_exports"]
