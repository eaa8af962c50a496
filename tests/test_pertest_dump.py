"""Per-test dumps write only what the test touched (issue 20, "Test run").

The Unity fixture is built once by covguard and its tests run twice: as covguard runs them (each
test's touched objects appended to one run file per process, runtime/cg_gcov_stream.h) and with
``COVGUARD_GCOV_DUMP_ALL`` set, where the hooks call libgcov's own ``__gcov_dump`` and libgcov
writes a ``.gcda`` for every object of the executable into the test's folder.  libgcov's dump is
the truth: each test's stream must hold exactly the objects whose counters libgcov wrote nonzero,
with the same bytes' counters, and the per-test coverage covguard derives must be the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from covguard import api
from covguard.config import load_settings
from covguard.ingest.cgcov import read_run_file
from covguard.ingest.gcda import parse_data, read_data
from covguard.ingest.gcno import read_notes
from tests.conftest import FIXTURES, covguard, require

UNITY = FIXTURES / "projects" / "unity"


def _tested(tmp_path: Path, name: str, env: dict[str, str] | None = None) -> Path:
    project = tmp_path / name
    shutil.copytree(UNITY, project)
    assert covguard("build", cwd=project).returncode == 0
    proc = covguard("test", cwd=project, env=env)
    assert proc.returncode in (0, 1, 3), proc.stdout + proc.stderr  # the fixture fails and crashes
    assert "15 tests in 2 executables" in proc.stdout
    return project


@pytest.mark.slow
def test_streams_hold_exactly_the_touched_objects(tmp_path: Path) -> None:
    require("gcc", "make")
    fast = _tested(tmp_path, "streams")
    full = _tested(tmp_path, "dump_all", env={"COVGUARD_GCOV_DUMP_ALL": "1"})
    coverage = fast / ".covguard" / "host-gcc" / "run" / "coverage"
    run_files = sorted(coverage.rglob("*.cgcovs"))
    assert run_files, "no run file written"
    assert not list(coverage.rglob("*.gcda")), "libgcov's per-object dump ran"
    full_cov = full / ".covguard" / "host-gcc" / "run" / "coverage"
    assert not list(full_cov.rglob("*.cgcovs"))
    skipped = 0
    for run in run_files:
        exe = run.parent.name
        for index, objects in read_run_file(run.read_bytes()):
            folder = full_cov / exe / str(index)
            truth: dict[str, np.ndarray] = {}
            for gcda in folder.rglob("*.gcda"):
                compiled = "/" + gcda.relative_to(folder).as_posix()  # in the other project
                data = read_data(gcda, read_notes(Path(compiled[: -len(".gcda")] + ".gcno")))
                vec = np.concatenate(data.counters) if data.counters else np.zeros(0, dtype=np.int64)
                if vec.any():
                    truth[compiled.replace(str(full), str(fast))] = vec
            got = {}
            for path, raw in objects:
                notes = read_notes(Path(path[: -len(".gcda")] + ".gcno"))
                parsed = parse_data(raw, Path(path), notes)
                got[path] = np.concatenate(parsed.counters)
            assert sorted(got) == sorted(truth), (exe, index)
            for path, vec in got.items():
                assert np.array_equal(vec, truth[path]), (exe, index, path)
            skipped += len(list(folder.rglob("*.gcda"))) - len(got)
    assert skipped > 0, "every test touched every object: the fixture no longer shows the saving"
    a = api.coverage(load_settings(fast / "covguard.toml"))
    b = api.coverage(load_settings(full / "covguard.toml"))
    for name in ("lines", "functions", "branches"):
        x, y = getattr(a, name), getattr(b, name)
        cols = list(x.columns)
        assert len(x) == len(y) > 0, name
        assert (
            x.astype(str)
            .sort_values(cols)
            .reset_index(drop=True)
            .equals(y.astype(str).sort_values(cols).reset_index(drop=True))
        ), name


@pytest.mark.slow
def test_stream_objects_take_the_fast_paths(tmp_path: Path) -> None:
    """Every object of every test's stream (GCC's serialisation: no object summary) is decoded by
    the vectorised reader and by the batch reader that ``collect`` uses, to exactly the careful
    parser's counters; a damaged copy is never decoded by the batch where the careful path would
    refuse it (the batch gives None and the file is read alone, with its message)."""
    require("gcc", "make")
    from covguard.ingest.gcda import _fast_counters, counters_batch, layout_of

    project = _tested(tmp_path, "batch")
    bufs, notes_of, layouts, truth = [], [], [], []
    for run in sorted((project / ".covguard" / "host-gcc" / "run" / "coverage").rglob("*.cgcovs")):
        for _index, objects in read_run_file(run.read_bytes()):
            for path, raw in objects:
                notes = read_notes(Path(path[: -len(".gcda")] + ".gcno"))
                layout = layout_of(notes, [f.n_counters for f in notes.functions])
                careful = np.concatenate(parse_data(raw, Path(path), notes).counters)
                fast = _fast_counters(raw, notes, layout)
                assert fast is not None, path  # a stream's object takes the vectorised path
                assert np.array_equal(fast, careful), path
                bufs.append(raw)
                notes_of.append(notes)
                layouts.append(layout)
                truth.append(careful)
    assert len(bufs) > 20
    rng = np.random.default_rng(7)
    damaged = []
    for raw in bufs:
        b = bytearray(raw)
        kind = int(rng.integers(0, 5))
        if kind == 0:
            del b[-8:]  # truncated
        elif kind == 1:
            b[24] ^= 1  # a function's identity
        elif kind == 2:
            b[-4:] = b"\xff\xff\xff\xff"  # a negative counter (or a damaged length)
        elif kind == 3:
            b[int(rng.integers(0, len(b)))] ^= 0xFF
        else:
            b += b"\0\0\0\0"  # an end word: still a good file
        damaged.append(bytes(b))
    all_bufs = bufs + damaged
    got = counters_batch(all_bufs, notes_of * 2, layouts * 2)
    for i, raw in enumerate(all_bufs):
        single = _fast_counters(raw, notes_of[i % len(bufs)], layouts[i % len(bufs)])
        batch = got[i]
        assert (batch is None) == (single is None), i  # the same checks, all files at once
        if i < len(bufs):
            assert batch is not None, i
            assert np.array_equal(batch, truth[i]), i
        if batch is not None and single is not None:
            assert np.array_equal(batch, single), i
    assert sum(g is None for g in got[len(bufs) :]) > 0, "no damaged copy was refused"
