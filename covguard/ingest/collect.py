"""Coverage collection: from the per-test ``.gcda`` files of a test run to :class:`CoverageData`.

The notes files of the build are compiled once into a coverage model (see
:mod:`covguard.ingest.gcov_model`); every coverage unit's data files are then read, checked
against their notes (stamp, checksums, counter counts, completeness) and multiplied through the
model in one vectorised step.  Nothing here loops over lines of coverage in Python.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from covguard.errors import CoverageDataError
from covguard.files import display_paths, glob_matcher, sha256_file
from covguard.frames import (
    BRANCHES,
    CODE_BRANCHES,
    CODE_FUNCTIONS,
    CODE_LINES,
    FUNCTIONS,
    LINES,
    CoverageData,
    conform,
    few_collections,
)
from covguard.ingest.cgcov import unit_streams
from covguard.ingest.gcda import Layout, counters_batch, counters_of, data_bytes, layout_of, read_counters
from covguard.ingest.gcno import NotesFile, read_notes
from covguard.ingest.gcov_model import Counts, CoverageModel, UnitCounters, build_model, evaluate
from covguard.ingest.model_cache import model_for
from covguard.model import BuildManifest
from covguard.trace.demangle import demangle

_REBUILD = "run 'covguard run' again (it rebuilds); if the build tree was moved, 'covguard build --clean'"


@dataclass
class SourceFilter:
    """Which files are product code (analysed) - paths relative to the project root."""

    root: Path
    include: Sequence[str]
    exclude: Sequence[str] = ()

    def __post_init__(self) -> None:
        self._match: Callable[[str], bool] = glob_matcher(self.include, self.exclude)

    def __call__(self, display: str) -> bool:
        return not display.startswith("/") and self._match(display)


def merge_variants(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per function as written: a C++ constructor's or destructor's variants (one
    demangled name, one definition, several functions in the notes) merge, their counts added."""
    if not len(frame) or not frame.duplicated(keys).any():
        return frame
    how = {"count": "sum", "line_start": "min", "line_end": "max"}
    agg = {c: how.get(c, "first") for c in frame.columns if c not in keys}
    out = frame.groupby(keys, observed=True, sort=False, as_index=False).agg(agg)
    return out.loc[:, list(frame.columns)].astype(frame.dtypes.to_dict())


def check_sources(manifest: BuildManifest, root: Path, keep: Callable[[str], bool]) -> list[str]:
    """Product sources changed or missing since the build (by SHA-256): stale coverage if any."""
    problems: list[str] = []
    hashes = sorted(manifest.source_hashes.items())
    for (path, digest), shown in zip(hashes, display_paths([p for p, _d in hashes], root), strict=True):
        if not keep(shown):
            continue
        p = Path(path)
        if not p.is_file():
            problems.append(f"{shown}: missing (it was compiled at build time)")
        elif sha256_file(p) != digest:
            problems.append(
                f"{shown}: changed after the build (its coverage would be shown against new text)"
            )
    return problems


def _check_notes_present(manifest: BuildManifest) -> None:
    missing = [p for p in manifest.notes_files if not os.path.isfile(p)]
    if missing:
        raise CoverageDataError(
            f"no coverage notes where the build left them ({len(missing)} missing, e.g. {missing[0]}): "
            "the build tree was moved, copied or deleted",
            hint=_REBUILD,
        )


def load_notes(manifest: BuildManifest) -> list[NotesFile]:
    _check_notes_present(manifest)
    return [read_notes(Path(p)) for p in manifest.notes_files]


def coverage_model(manifest: BuildManifest, cache: Path | None = None, jobs: int = 1) -> CoverageModel:
    """The build's coverage model, from ``cache`` when it is current (see ingest.model_cache)."""
    _check_notes_present(manifest)
    return model_for(manifest.notes_files, cache, jobs)


def _gcda_files(folder: str | Path) -> list[str]:
    """Every .gcda below ``folder`` (os.walk: several times faster than Path.rglob on deep trees)."""
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(folder):
        found.extend(os.path.join(dirpath, f) for f in files if f.endswith(".gcda"))
    return sorted(found)


def normal_paths(texts: Sequence[str]) -> list[str]:
    """``str(Path(text))`` of each text, with one :class:`~pathlib.Path` per distinct parent folder
    rather than one per text (a run's thousands of coverage units share a few folders)."""
    parents: dict[str, str] = {}
    out: list[str] = []
    for text in texts:
        parent, name = os.path.split(text)
        if name in ("", ".", ".."):
            out.append(str(Path(text)))
            continue
        folder = parents.get(parent)
        if folder is None:
            folder = parents[parent] = str(Path(parent)) if parent else "."
        out.append(name if folder == "." else folder + name if folder.endswith("/") else f"{folder}/{name}")
    return out


def _entries(folder: str) -> tuple[set[str], set[str]]:
    """The names of the folders and of the regular files in ``folder`` (both empty when it is not
    a folder): the folder of many coverage units listed once, not a stat per unit."""
    dirs: set[str] = set()
    files: set[str] = set()
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir():
                    dirs.add(entry.name)
                elif entry.is_file():
                    files.add(entry.name)
    except OSError:
        pass
    return dirs, files


def units_counters(
    model: CoverageModel, folders: Sequence[str | Path]
) -> tuple[list[UnitCounters], list[list[str]]]:
    """The counters of every object in each coverage unit, and the files they came from: the unit's
    folder (``<folder>/<abs obj path>.gcda``, libgcov's layout) and its streams (``<folder>.cgcov``
    or its record in a run file, covguard's hooks: touched objects only).  All of them are decoded
    together (:func:`~covguard.ingest.gcda.counters_batch`); a file the batch does not take is read
    alone (:func:`~covguard.ingest.gcda.counters_of`), which decodes it or says what is wrong."""
    layouts: dict[int, Layout] = {}
    runs: dict[str, dict[int, tuple[Path, list[tuple[str, bytes]]]]] = {}  # run files, per folder
    listings: dict[str, tuple[set[str], set[str]]] = {}  # the units' folders, each listed once
    pending: list[tuple[int, int, str, bytes]] = []  # (unit, object, name shown, bytes), reading order
    found_per_unit: list[list[str]] = []
    for u, folder in enumerate(folders):
        found: list[str] = []
        base = os.fspath(folder)
        parent, name = os.path.split(base)
        listing = listings.get(parent)
        if listing is None:
            listing = listings[parent] = _entries(parent)
        if name in listing[0]:  # libgcov's layout: one file per object the test ran
            for path in _gcda_files(base):
                oi = _object_of(model, path[len(base) :], path, layouts)
                pending.append((u, oi, path, data_bytes(Path(path))))
                found.append(path)
        for shown, objects in unit_streams(base, runs, listing[1]):
            for gcda, data in objects:
                where = f"{shown}:{gcda}"
                pending.append((u, _object_of(model, gcda, where, layouts), where, data))
            found.append(shown)
        found_per_unit.append(found)
    decoded = counters_batch(
        [p[3] for p in pending],
        [model.objects[p[1]].notes for p in pending],
        [layouts[p[1]] for p in pending],
    )
    per_unit: list[UnitCounters] = [{} for _ in folders]
    for (u, oi, shown, data), fast in zip(pending, decoded, strict=True):
        vec = fast if fast is not None else counters_of(data, shown, model.objects[oi].notes, layouts[oi])
        # a unit may hold an object twice (a process the test started wrote its counters into the
        # folder through libgcov's exit handler, GCOV_PREFIX, beside the stream): both are this test's
        counters = per_unit[u]
        counters[oi] = counters[oi] + vec if oi in counters else vec
    return per_unit, found_per_unit


def _object_of(model: CoverageModel, gcda: str, shown: str | Path, layouts: dict[int, Layout]) -> int:
    """The index of the model's object whose counters ``gcda`` (its absolute path, as the notes name
    it) holds, its notes' counter layout made once in ``layouts``; coverage data of an object the
    build has no notes for is refused, naming ``shown``."""
    notes_path = gcda[: -len(".gcda")] + ".gcno"
    oi = model.object_index.get(notes_path)
    if oi is None:
        raise CoverageDataError(
            f"coverage data without its notes file: no {notes_path} in this build",
            path=shown,
            hint=_REBUILD,
        )
    if oi not in layouts:
        info = model.objects[oi]
        layouts[oi] = layout_of(info.notes, info.fn_counter_counts)
    return oi


def counters_in_place(model: CoverageModel) -> tuple[UnitCounters, list[str]]:
    """The counters of ``.gcda`` files written beside their notes (a plain, non-per-test run)."""
    counters: UnitCounters = {}
    found: list[str] = []
    for oi, info in enumerate(model.objects):
        gcda = info.notes.path.with_suffix(".gcda")
        if gcda.is_file():
            counters[oi] = read_counters(gcda, info.notes, layout_of(info.notes, info.fn_counter_counts))
            found.append(str(gcda))
    return counters, found


def collect_in_place(
    manifest: BuildManifest, *, root: Path, keep: Callable[[str], bool], origin: str = "host"
) -> CoverageData:
    """Coverage of a plain run (``.gcda`` beside the objects, no per-test folders) as one unit."""
    model = build_model(load_notes(manifest))
    counters, _found = counters_in_place(model)
    counts = evaluate(model, [counters])
    return frames_from_counts(model, counts, ["all"], 0, root, keep, origin, manifest.variant)


@few_collections
def collect(
    manifest: BuildManifest,
    units: dict[str, str],
    *,
    root: Path,
    keep: Callable[[str], bool],
    origin: str = "host",
    variant: str = "default",
    model: CoverageModel | None = None,
) -> tuple[CoverageData, dict[str, int]]:
    """Read every unit's coverage; return the frames and the number of data files per unit."""
    if model is None:
        model = coverage_model(manifest)
    names = sorted(units)
    per_unit, found = units_counters(model, normal_paths([units[name] for name in names]))
    n_files = {name: len(f) for name, f in zip(names, found, strict=True)}
    merged: UnitCounters = {}
    for c in per_unit:
        for oi, vec in c.items():
            merged[oi] = merged[oi] + vec if oi in merged else vec.copy()
    counts = evaluate(model, [*per_unit, merged])
    total_unit = len(names)
    return frames_from_counts(model, counts, names, total_unit, root, keep, origin, variant), n_files


@few_collections
def frames_from_counts(
    model: CoverageModel,
    counts: Counts,
    names: list[str],
    total_unit: int,
    root: Path,
    keep: Callable[[str], bool],
    origin: str,
    variant: str,
) -> CoverageData:
    """The frames of :class:`CoverageData` from the model's counts: the code universe (the counts of
    unit ``total_unit``, the whole run) and the sparse per-unit rows (units ``0..total_unit-1``,
    named ``names``), both limited to the files ``keep`` takes."""
    sel = _Selection.of(model, root, keep, names, origin, variant)
    return CoverageData(
        lines=conform(_unit_lines(sel, counts, total_unit), LINES),
        functions=conform(_unit_functions(sel, counts, total_unit), FUNCTIONS),
        branches=conform(_unit_branches(sel, counts, total_unit), BRANCHES),
        code_lines=conform(_code_lines(sel, counts, total_unit), CODE_LINES),
        code_functions=conform(_code_functions(sel, counts, total_unit), CODE_FUNCTIONS),
        code_branches=conform(_code_branches(sel, counts, total_unit), CODE_BRANCHES),
        notes=[f"{sel.shown[fid]}: {text}" for fid, text in model.notes if sel.file_keep[fid]],
    )


@dataclass(frozen=True)
class _Selection:
    """The model's files, functions and units as the frames name them, and which of its lines,
    functions and branches are in files the source filter keeps."""

    model: CoverageModel
    shown: list[str]  # file id -> path as shown (relative to the project root)
    files: _Names  # the same, to make category columns of
    fn_names: _Names  # function id -> name (C++: qualified, demangled); id -1 -> ""
    unit_names: pd.Index  # coverage unit -> name
    file_keep: np.ndarray  # per file id
    line_ok: np.ndarray  # per line id
    func_ok: np.ndarray  # per function id
    branch_ok: np.ndarray  # per branch id
    branches_per_line: np.ndarray  # per line id
    origin: str
    variant: str

    @classmethod
    def of(
        cls,
        model: CoverageModel,
        root: Path,
        keep: Callable[[str], bool],
        names: list[str],
        origin: str,
        variant: str,
    ) -> _Selection:
        shown = display_paths(model.files, root)
        file_keep = np.fromiter((keep(s) for s in shown), dtype=bool, count=len(shown))
        line_ok = file_keep[model.line_file]
        n_br = len(model.branch_line)
        return cls(
            model=model,
            shown=shown,
            files=_Names.of(pd.Series(shown, dtype="string").to_numpy()),
            fn_names=_Names.of(np.asarray([*demangle(model.func_name), ""], dtype=object)),
            unit_names=pd.Index(names),
            file_keep=file_keep,
            line_ok=line_ok,
            func_ok=file_keep[model.func_file],
            branch_ok=line_ok[model.branch_line] if n_br else np.zeros(0, dtype=bool),
            branches_per_line=np.bincount(model.branch_line, minlength=model.n_lines).astype(np.int32),
            origin=origin,
            variant=variant,
        )

    def file_of(self, ids: np.ndarray) -> pd.Categorical:
        return _categorical(self.files, ids)

    def line_function_of(self, line_ids: np.ndarray) -> pd.Categorical:
        """The function each line is in ("" for none)."""
        line_fn = self.model.line_function[line_ids]
        return _categorical(self.fn_names, np.where(line_fn >= 0, line_fn, -1))

    def function_of(self, ids: np.ndarray) -> pd.Categorical:
        return _categorical(self.fn_names, ids)

    def units_of(self, u: np.ndarray) -> pd.Categorical:
        if not len(self.unit_names):
            return pd.Categorical([])
        return pd.Categorical.from_codes(u, categories=self.unit_names)


@dataclass(frozen=True)
class _Names:
    """Names by id (a file's, a function's) ready to make category columns from ids: the sorted
    categories of all of them, computed once, and each id's code among them."""

    values: np.ndarray  # id -> name (strings); id -1 is the last one, as values[-1]
    categories: pd.Index  # every distinct name, sorted (pd.Categorical's categories of them all)
    code: np.ndarray  # id -> its name's position in categories

    @classmethod
    def of(cls, values: np.ndarray) -> _Names:
        categories = pd.Categorical(values).categories
        return cls(values, categories, categories.get_indexer(pd.Index(values)))


def _categorical(names: _Names, ids: np.ndarray) -> pd.Categorical:
    """``pd.Categorical(names.values[ids])``: the same categories, in the same order, and codes,
    without hashing a string per row nor sorting the names again.  The categories of the rows
    are those of all names that the ids reach, in the order of all names' sorted categories (a
    subset of a sorted list is sorted); each row's code is found by indexing."""
    n = len(names.values)
    if not n or not len(ids):
        return pd.Categorical(names.values[ids])
    full = names.code[ids]  # negative ids index from the end, as names.values[ids] does
    seen = np.zeros(len(names.categories), dtype=bool)
    seen[full] = True
    present = np.flatnonzero(seen)
    renumber = np.zeros(len(names.categories), dtype=np.intp)
    renumber[present] = np.arange(len(present))
    return pd.Categorical.from_codes(renumber[full], categories=names.categories[present])


def _constant(value: str, n: int) -> pd.Categorical:
    """``n`` rows of ``value`` as the category column that casting a column of it would give (no
    rows: no category, as the cast of an empty column)."""
    categories = pd.Series([value] if n else [], dtype="str").astype("category").cat.categories
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=categories)


def _totals(n: int, unit: np.ndarray, ids: np.ndarray, count: np.ndarray, total_unit: int) -> np.ndarray:
    """Per id (``n`` of them), the count of unit ``total_unit`` (0 where it has none)."""
    out = np.zeros(n, dtype=np.int64)
    sel = unit == total_unit
    out[ids[sel]] = count[sel]
    return out


def _per_unit(
    unit: np.ndarray, ids: np.ndarray, count: np.ndarray, total_unit: int, ok: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (unit, id, count) rows of the units before ``total_unit`` whose id is ``ok``."""
    per = unit < total_unit
    u, i, c = unit[per], ids[per], count[per]
    kept = ok[i] if len(i) else np.zeros(0, dtype=bool)
    return u[kept], i[kept], c[kept]


def _code_lines(sel: _Selection, counts: Counts, total_unit: int) -> pd.DataFrame:
    m = sel.model
    total = _totals(m.n_lines, counts.line_unit, counts.line_id, counts.line_count, total_unit)
    lid = np.flatnonzero(sel.line_ok)
    return pd.DataFrame(
        {
            "file": sel.file_of(m.line_file[lid]),
            "line": m.line_no[lid],
            "function": sel.line_function_of(lid),
            "branches_total": sel.branches_per_line[lid],
            "count": total[lid],
        }
    ).sort_values(["file", "line"], kind="stable", ignore_index=True)


def _code_functions(sel: _Selection, counts: Counts, total_unit: int) -> pd.DataFrame:
    m = sel.model
    fid = np.flatnonzero(sel.func_ok)
    total = _totals(len(m.func_name), counts.func_unit, counts.func_id, counts.func_count, total_unit)
    code_functions = pd.DataFrame(
        {
            "file": sel.file_of(m.func_file[fid]),
            "function": sel.function_of(fid),
            "line_start": m.func_start[fid],
            "line_end": m.func_end[fid],
            "count": total[fid],
        }
    ).sort_values(["file", "line_start", "function"], kind="stable", ignore_index=True)
    return merge_variants(code_functions, ["file", "function"])


def _code_branches(sel: _Selection, counts: Counts, total_unit: int) -> pd.DataFrame:
    m = sel.model
    bid = np.flatnonzero(sel.branch_ok)
    total = _totals(len(m.branch_line), counts.branch_unit, counts.branch_id, counts.branch_count, total_unit)
    return pd.DataFrame(
        {
            "file": sel.file_of(m.line_file[m.branch_line[bid]]),
            "line": m.line_no[m.branch_line[bid]],
            "branch": m.branch_index[bid],
            "count": total[bid],
        }
    ).sort_values(["file", "line", "branch"], kind="stable", ignore_index=True)


def _unit_lines(sel: _Selection, counts: Counts, total_unit: int) -> pd.DataFrame:
    m = sel.model
    lu, ll, lc = _per_unit(counts.line_unit, counts.line_id, counts.line_count, total_unit, sel.line_ok)
    bu, bb, _ = _per_unit(
        counts.branch_unit, counts.branch_id, counts.branch_count, total_unit, sel.branch_ok
    )
    return pd.DataFrame(
        {
            "file": sel.file_of(m.line_file[ll]),
            "line": m.line_no[ll],
            "function": sel.line_function_of(ll),
            "test": sel.units_of(lu),
            "count": lc,
            "branches_total": sel.branches_per_line[ll],
            "branches_covered": _branches_covered(lu, ll, bu, m.branch_line[bb], m.n_lines),
            "origin": _constant(sel.origin, len(lc)),
            "variant": _constant(sel.variant, len(lc)),
        }
    )


def _branches_covered(
    lu: np.ndarray, ll: np.ndarray, bu: np.ndarray, b_line: np.ndarray, n_lines: int
) -> np.ndarray:
    """Per (unit ``lu``, line ``ll``) row: how many branches that unit took on that line, from the
    (unit ``bu``, branch's line ``b_line``) rows of its taken branches."""
    n = max(n_lines, 1)
    uniq, covered = np.unique(bu.astype(np.int64) * n + b_line, return_counts=True)
    line_key = lu.astype(np.int64) * n + ll
    pos = np.searchsorted(uniq, line_key)
    pos_ok = pos < len(uniq)
    hit = np.zeros(len(line_key), dtype=bool)
    hit[pos_ok] = uniq[pos[pos_ok]] == line_key[pos_ok]
    out = np.zeros(len(line_key), dtype=np.int32)
    out[hit] = covered[pos[hit]]
    return out


def _unit_functions(sel: _Selection, counts: Counts, total_unit: int) -> pd.DataFrame:
    m = sel.model
    fu, ff, fc = _per_unit(counts.func_unit, counts.func_id, counts.func_count, total_unit, sel.func_ok)
    functions = pd.DataFrame(
        {
            "file": sel.file_of(m.func_file[ff]),
            "function": sel.function_of(ff),
            "line_start": m.func_start[ff],
            "line_end": m.func_end[ff],
            "test": sel.units_of(fu),
            "count": fc,
            "origin": _constant(sel.origin, len(fc)),
            "variant": _constant(sel.variant, len(fc)),
        }
    )
    return merge_variants(functions, ["file", "function", "test"])


def _unit_branches(sel: _Selection, counts: Counts, total_unit: int) -> pd.DataFrame:
    m = sel.model
    bu, bb, bc = _per_unit(
        counts.branch_unit, counts.branch_id, counts.branch_count, total_unit, sel.branch_ok
    )
    return pd.DataFrame(
        {
            "file": sel.file_of(m.line_file[m.branch_line[bb]]),
            "line": m.line_no[m.branch_line[bb]],
            "branch": m.branch_index[bb],
            "test": sel.units_of(bu),
            "count": bc,
            "origin": _constant(sel.origin, len(bc)),
            "variant": _constant(sel.variant, len(bc)),
        }
    )


__all__ = ["SourceFilter", "check_sources", "collect", "load_notes"]
