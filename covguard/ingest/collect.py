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
from covguard.files import display_path, glob_matcher, sha256_file
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
from covguard.ingest.gcda import Layout, counters_of, layout_of, read_counters
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
    for path, digest in sorted(manifest.source_hashes.items()):
        shown = display_path(path, root)
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
    missing = [p for p in manifest.notes_files if not Path(p).is_file()]
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


def _gcda_files(folder: Path) -> list[str]:
    """Every .gcda below ``folder`` (os.walk: several times faster than Path.rglob on deep trees)."""
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(folder):
        found.extend(os.path.join(dirpath, f) for f in files if f.endswith(".gcda"))
    return sorted(found)


def unit_counters(
    model: CoverageModel, folder: Path, layouts: dict[int, Layout] | None = None
) -> tuple[UnitCounters, list[str]]:
    """The counters of every object in one coverage unit: its folder (``<folder>/<abs obj path>.gcda``,
    libgcov's layout) and its stream (``<folder>.cgcov``, covguard's hooks: touched objects only)."""
    counters: UnitCounters = {}
    found: list[str] = []
    layouts = {} if layouts is None else layouts
    base = str(folder)
    for name in _gcda_files(folder):
        notes_path = name[len(base) : -len(".gcda")] + ".gcno"
        oi = model.object_index.get(notes_path)
        if oi is None:
            raise CoverageDataError(
                f"coverage data without its notes file: no {notes_path} in this build",
                path=name,
                hint=_REBUILD,
            )
        info = model.objects[oi]
        layout = layouts.get(oi)
        if layout is None:
            layout = layouts[oi] = layout_of(info.notes, info.fn_counter_counts)
        counters[oi] = read_counters(Path(name), info.notes, layout)
        found.append(name)
    for shown, objects in unit_streams(folder):
        _stream_counters(model, shown, objects, counters, layouts)
        found.append(shown)
    return counters, found


def _stream_counters(
    model: CoverageModel,
    stream: str,
    objects: list[tuple[str, bytes]],
    counters: UnitCounters,
    layouts: dict[int, Layout],
) -> None:
    """Add the objects of one test's coverage stream (written by covguard's hooks with only the
    objects the test touched) to ``counters``.  An object absent from a complete stream was not
    touched: its counters are zero for this unit (no entry)."""
    for gcda, data in objects:
        shown = Path(f"{stream}:{gcda}")
        notes_path = gcda[: -len(".gcda")] + ".gcno"
        oi = model.object_index.get(notes_path)
        if oi is None:
            raise CoverageDataError(
                f"coverage data without its notes file: no {notes_path} in this build",
                path=shown,
                hint=_REBUILD,
            )
        info = model.objects[oi]
        layout = layouts.get(oi)
        if layout is None:
            layout = layouts[oi] = layout_of(info.notes, info.fn_counter_counts)
        vec = counters_of(data, shown, info.notes, layout)
        # also in the folder: a process the test started ran this object and libgcov's exit
        # handler wrote its counters there (GCOV_PREFIX); both are this test's
        counters[oi] = counters[oi] + vec if oi in counters else vec


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
    per_unit: list[UnitCounters] = []
    n_files: dict[str, int] = {}
    layouts: dict[int, Layout] = {}
    for name in names:
        folder = Path(units[name])
        c, found = unit_counters(model, folder, layouts)
        per_unit.append(c)
        n_files[name] = len(found)
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
    shown = [display_path(f, root) for f in model.files]
    file_keep = np.fromiter((keep(s) for s in shown), dtype=bool, count=len(shown))
    files = pd.Series(shown, dtype="string")
    fn_names = np.asarray([*demangle(model.func_name), ""], dtype=object)  # C++: qualified names

    def file_of(ids: np.ndarray) -> pd.Categorical:
        return pd.Categorical(files.to_numpy()[ids])

    # ---- universe
    line_ok = file_keep[model.line_file]
    branch_line = model.branch_line
    branches_per_line = np.bincount(branch_line, minlength=model.n_lines).astype(np.int32)
    line_fn = model.line_function
    total_line_count = np.zeros(model.n_lines, dtype=np.int64)
    sel = counts.line_unit == total_unit
    total_line_count[counts.line_id[sel]] = counts.line_count[sel]
    lid = np.flatnonzero(line_ok)
    code_lines = pd.DataFrame(
        {
            "file": file_of(model.line_file[lid]),
            "line": model.line_no[lid],
            "function": pd.Categorical(fn_names[np.where(line_fn[lid] >= 0, line_fn[lid], -1)]),
            "branches_total": branches_per_line[lid],
            "count": total_line_count[lid],
        }
    ).sort_values(["file", "line"], kind="stable", ignore_index=True)

    func_ok = file_keep[model.func_file]
    fid = np.flatnonzero(func_ok)
    total_func = np.zeros(len(model.func_name), dtype=np.int64)
    fsel = counts.func_unit == total_unit
    total_func[counts.func_id[fsel]] = counts.func_count[fsel]
    code_functions = pd.DataFrame(
        {
            "file": file_of(model.func_file[fid]),
            "function": pd.Categorical(fn_names[fid]),
            "line_start": model.func_start[fid],
            "line_end": model.func_end[fid],
            "count": total_func[fid],
        }
    ).sort_values(["file", "line_start", "function"], kind="stable", ignore_index=True)

    code_functions = merge_variants(code_functions, ["file", "function"])

    n_br = len(branch_line)
    br_ok = line_ok[branch_line] if n_br else np.zeros(0, dtype=bool)
    bid = np.flatnonzero(br_ok)
    total_br = np.zeros(n_br, dtype=np.int64)
    bsel = counts.branch_unit == total_unit
    total_br[counts.branch_id[bsel]] = counts.branch_count[bsel]
    code_branches = pd.DataFrame(
        {
            "file": file_of(model.line_file[branch_line[bid]]),
            "line": model.line_no[branch_line[bid]],
            "branch": model.branch_index[bid],
            "count": total_br[bid],
        }
    ).sort_values(["file", "line", "branch"], kind="stable", ignore_index=True)

    # ---- per unit (sparse)
    unit_index = pd.Index(names)
    unit_names = pd.Categorical.from_codes(np.arange(len(names)), categories=unit_index) if names else None
    per = counts.line_unit < total_unit
    lu, ll, lc = counts.line_unit[per], counts.line_id[per], counts.line_count[per]
    keep_rows = line_ok[ll]
    lu, ll, lc = lu[keep_rows], ll[keep_rows], lc[keep_rows]
    # branches covered per (unit, line)
    bper = counts.branch_unit < total_unit
    bu, bb, bc = counts.branch_unit[bper], counts.branch_id[bper], counts.branch_count[bper]
    bkeep = br_ok[bb] if len(bb) else np.zeros(0, dtype=bool)
    bu, bb, bc = bu[bkeep], bb[bkeep], bc[bkeep]
    n_lines = max(model.n_lines, 1)
    cov_key = bu.astype(np.int64) * n_lines + branch_line[bb]
    uniq, covered = np.unique(cov_key, return_counts=True)
    line_key = lu.astype(np.int64) * n_lines + ll
    pos = np.searchsorted(uniq, line_key)
    pos_ok = pos < len(uniq)
    hit = np.zeros(len(line_key), dtype=bool)
    hit[pos_ok] = uniq[pos[pos_ok]] == line_key[pos_ok]
    branches_covered = np.zeros(len(line_key), dtype=np.int32)
    branches_covered[hit] = covered[pos[hit]]

    def units_of(u: np.ndarray) -> pd.Categorical:
        if unit_names is None:
            return pd.Categorical([])
        return pd.Categorical.from_codes(u, categories=unit_names.categories)

    lines = pd.DataFrame(
        {
            "file": file_of(model.line_file[ll]),
            "line": model.line_no[ll],
            "function": pd.Categorical(fn_names[np.where(line_fn[ll] >= 0, line_fn[ll], -1)]),
            "test": units_of(lu),
            "count": lc,
            "branches_total": branches_per_line[ll],
            "branches_covered": branches_covered,
            "origin": origin,
            "variant": variant,
        }
    )
    fper = counts.func_unit < total_unit
    fu, ff, fc = counts.func_unit[fper], counts.func_id[fper], counts.func_count[fper]
    fkeep = func_ok[ff]
    fu, ff, fc = fu[fkeep], ff[fkeep], fc[fkeep]
    functions = pd.DataFrame(
        {
            "file": file_of(model.func_file[ff]),
            "function": pd.Categorical(fn_names[ff]),
            "line_start": model.func_start[ff],
            "line_end": model.func_end[ff],
            "test": units_of(fu),
            "count": fc,
            "origin": origin,
            "variant": variant,
        }
    )
    functions = merge_variants(functions, ["file", "function", "test"])
    branches = pd.DataFrame(
        {
            "file": file_of(model.line_file[branch_line[bb]]),
            "line": model.line_no[branch_line[bb]],
            "branch": model.branch_index[bb],
            "test": units_of(bu),
            "count": bc,
            "origin": origin,
            "variant": variant,
        }
    )
    return CoverageData(
        lines=conform(lines, LINES),
        functions=conform(functions, FUNCTIONS),
        branches=conform(branches, BRANCHES),
        code_lines=conform(code_lines, CODE_LINES),
        code_functions=conform(code_functions, CODE_FUNCTIONS),
        code_branches=conform(code_branches, CODE_BRANCHES),
        notes=[f"{shown[fid]}: {text}" for fid, text in model.notes if file_keep[fid]],
    )


__all__ = ["SourceFilter", "check_sources", "collect", "load_notes"]
