"""The native reader of clang's coverage (raw profile + coverage mapping, no llvm process per
test) against llvm-cov itself, test by test: the MC/DC fixture and the sample firmware, compiled
with the real clang-19, run with covguard's harness, every ``.profraw`` read both ways.

Three levels: the export (every field covguard reads of ``llvm-cov export``: per-file segments,
branches and expansions, per-function counts, regions, branches and MC/DC records), each unit's
frames and executed test vectors (against ``llvm-cov show --show-mcdc``), and the whole run's
frames from :func:`covguard.ingest.llvm_cov.collect_llvm` with and without the native reader.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from covguard import api
from covguard.config import load_settings
from covguard.errors import CoverageDataError
from covguard.ingest.llvm_cov import (
    LlvmRun,
    LlvmTools,
    collect_llvm,
    merge_profile,
    read_native_unit,
    read_profile,
    read_unit,
    unit_executables,
)
from covguard.ingest.llvm_export import UnitCoverage
from covguard.ingest.llvm_native import NativeExecutable, build_segments
from covguard.ingest.profraw import UnsupportedProfile, parse_profraw, read_profraw
from tests.conftest import FIXTURES, SAMPLE, require

TOOLS = LlvmTools()


@pytest.fixture(scope="module")
def mcdc_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[api.Outcome, Path]:
    require("clang-19", "llvm-cov-19", "make")
    project = tmp_path_factory.mktemp("native") / "mcdc"
    shutil.copytree(FIXTURES / "c" / "mcdc", project)
    settings = load_settings(project / "covguard.toml")
    return api.run(settings), settings.root


@pytest.fixture(scope="module")
def sample_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[api.Outcome, Path]:
    require("clang-19", "llvm-cov-19", "make")
    tmp = tmp_path_factory.mktemp("native-sample")
    settings = load_settings(
        SAMPLE / "covguard.toml",
        overrides={"work_dir": str(tmp / "work"), "output_dir": str(tmp / "out"), "toolchain": "host-clang"},
    )
    return api.run(settings), settings.root


def _run(project: tuple[api.Outcome, Path]) -> LlvmRun:
    outcome, root = project
    run = unit_executables(outcome.results.units, outcome.results.cases, root)
    assert len(run.units) >= 20
    assert run.executables
    return run


def _llvm_export(exe: Path, raw: Path, tmp: Path) -> dict[str, Any]:
    profdata = merge_profile(TOOLS, [raw], tmp / "unit.profdata")
    out = subprocess.run(
        ["llvm-cov-19", "export", "-format=text", str(exe), f"-instr-profile={profdata}"],
        capture_output=True,
        check=True,
    ).stdout
    data: dict[str, Any] = json.loads(out)["data"][0]
    return data


def _same_export(ref: dict[str, Any], mine: dict[str, Any]) -> None:
    theirs = {f["filename"]: f for f in ref["files"]}
    ours = {f["filename"]: f for f in mine["files"]}
    assert sorted(theirs) == sorted(ours)
    for name, f in theirs.items():
        assert ours[name]["segments"] == f["segments"], name
        assert ours[name]["branches"] == f["branches"], name
        assert [(e["source_region"], e["branches"]) for e in ours[name]["expansions"]] == [
            (e["source_region"], e["branches"]) for e in f["expansions"]
        ], name
    assert [f["name"] for f in mine["functions"]] == [f["name"] for f in ref["functions"]]
    for a, b in zip(ref["functions"], mine["functions"], strict=True):
        for key in ("count", "regions", "branches", "filenames"):
            assert b[key] == a[key], (a["name"], key)
        assert [r[:7] for r in b["mcdc_records"]] == a["mcdc_records"], a["name"]


def _check_exports(run: LlvmRun, tmp: Path) -> int:
    natives = {str(e): NativeExecutable(e) for e in run.executables}
    for raw, exe in run.units.values():
        _same_export(_llvm_export(exe, raw, tmp), natives[str(exe)].export(read_profraw(raw)))
    return len(run.units)


def _check_units(run: LlvmRun, tmp: Path) -> int:
    """Each unit's frames and executed vectors: native against llvm-cov export + show."""
    keep = lambda p: True  # noqa: E731 - every file, the runtime's header too
    empty = merge_profile(TOOLS, [_empty_text(tmp)], tmp / "empty.profdata")
    files = {
        str(e): read_profile(TOOLS, "", empty, e, str, keep, model=True).frames.kept_paths
        for e in run.executables
    }
    natives = {str(e): NativeExecutable(e) for e in run.executables}
    with_vectors = 0
    for unit, (raw, exe) in sorted(run.units.items()):
        ref = read_unit(TOOLS, unit, raw, exe, tmp, str, keep, files[str(exe)])
        got = read_native_unit(natives[str(exe)], unit, raw, str, keep, files[str(exe)])
        # the native reader leaves out what the test did not touch (zero counts, no vectors)
        for name in ("lines", "branches", "functions"):
            mine, theirs = getattr(got.frames, name), getattr(ref.frames, name)
            pd.testing.assert_frame_equal(_nonzero(mine), _nonzero(theirs), obj=f"{unit} {name}")
        assert _evaluated(got) == _evaluated(ref), unit
        with_vectors += any(got.vectors)
    return with_vectors


def _nonzero(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame["count"] > 0]
    return rows.sort_values(list(rows.columns), kind="stable", ignore_index=True)


def _evaluated(u: UnitCoverage) -> list[tuple[Any, ...]]:
    """The decisions a unit evaluated: where, llvm-cov's per-condition flags, the vectors."""
    d = u.frames.decisions
    cols = ["decision_path", "decision_line", "decision_column", "end_line", "end_column", "flags"]
    rows = [(*r, v) for r, v in zip(d[cols].itertuples(index=False), u.vectors, strict=True) if v]
    return sorted(rows, key=str)


def _empty_text(tmp: Path) -> Path:
    text = tmp / "empty.proftext"
    text.write_text("# IR level profile with no records\n:ir\n", encoding="utf-8")
    return text


def _same_data(run: LlvmRun, root: Path, tmp: Path) -> None:
    keep = lambda p: not p.startswith("/")  # noqa: E731 - the project's files
    native, _ = collect_llvm(run, root=root, keep=keep, tools=TOOLS, work=tmp, native=True)
    llvm, _ = collect_llvm(run, root=root, keep=keep, tools=TOOLS, work=tmp, native=False)
    assert native.notes == llvm.notes  # no executable, no profile was left to llvm-cov
    for name in ("lines", "branches", "functions", "decisions", "code_lines", "code_branches",
                 "code_functions", "code_decisions"):  # fmt: skip
        a, b = getattr(native, name), getattr(llvm, name)
        assert len(b), name
        pd.testing.assert_frame_equal(a, b, obj=name)


def test_mcdc_fixture_exports_equal_llvm_cov(mcdc_project: tuple[api.Outcome, Path], tmp_path: Path) -> None:
    assert _check_exports(_run(mcdc_project), tmp_path) >= 20


def test_mcdc_fixture_units_equal_llvm_cov(mcdc_project: tuple[api.Outcome, Path], tmp_path: Path) -> None:
    assert _check_units(_run(mcdc_project), tmp_path) >= 15  # most tests evaluate a decision


def test_mcdc_fixture_run_equals_llvm_cov(mcdc_project: tuple[api.Outcome, Path], tmp_path: Path) -> None:
    _same_data(_run(mcdc_project), mcdc_project[1], tmp_path)


@pytest.mark.slow
def test_sample_equals_llvm_cov_test_by_test(
    sample_project: tuple[api.Outcome, Path], tmp_path: Path
) -> None:
    run = _run(sample_project)
    assert _check_exports(run, tmp_path) == len(run.units)
    assert _check_units(run, tmp_path) >= 1
    _same_data(run, sample_project[1], tmp_path)


def test_a_profile_it_does_not_know_goes_to_llvm(
    mcdc_project: tuple[api.Outcome, Path], tmp_path: Path
) -> None:
    run = _run(mcdc_project)
    unit = sorted(run.units)[0]
    raw, exe = run.units[unit]
    data = bytearray(raw.read_bytes())
    good = parse_profraw(bytes(data))
    assert good.counters.sum() > 0
    with pytest.raises(UnsupportedProfile, match="truncated"):
        parse_profraw(bytes(data[: len(data) // 2]))
    struct.pack_into("<Q", data, 8, 11)  # a raw profile version this reader has not seen
    with pytest.raises(UnsupportedProfile, match="version"):
        parse_profraw(bytes(data))
    # collected: that unit goes to llvm-profdata, which refuses it too - an error, never a guess
    moved = tmp_path / "future.profraw"
    moved.write_bytes(bytes(data))
    one = LlvmRun(units={unit: (moved, exe)}, executables=[exe])
    with pytest.raises(CoverageDataError, match="merging the raw profile"):
        collect_llvm(one, root=mcdc_project[1], keep=lambda p: True, tools=TOOLS, work=tmp_path)


def test_segments_of_nested_and_touching_regions() -> None:
    # a function body 1:1-5:2 holding an if-branch 2:5-3:6 and a skipped region 4:1-4:9
    code, skipped = 0, 2
    regions = [
        [1, 1, 5, 2, 3, 0, 0, code],
        [2, 5, 3, 6, 1, 0, 0, code],
        [4, 1, 4, 9, 0, 0, 0, skipped],
    ]
    assert build_segments(regions) == [
        [1, 1, 3, True, True, False],
        [2, 5, 1, True, True, False],
        [3, 6, 3, True, False, False],
        [4, 1, 0, False, True, False],
        [4, 9, 3, True, False, False],
        [5, 2, 0, False, False, False],
    ]
