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
