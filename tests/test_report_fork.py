"""The trace matrix written by a forked process beside the other outputs
(covguard.report.forked): the same bytes as written in turn, its error raised in the parent, no
fork while another thread runs."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from covguard.config import load_settings
from covguard.errors import OutputError
from covguard.options import report_options
from covguard.report import forked
from covguard.report.outputs import COVGUARD_FORMATS, write_outputs
from tests.conftest import SAMPLE


def _write(sample_run: Any, out: Path) -> dict[str, Path]:
    work = Path(sample_run.manifest.build_dir).parents[1]
    settings = load_settings(
        SAMPLE / "covguard.toml", overrides={"work_dir": str(work), "output_dir": str(out)}
    )
    return write_outputs(
        report_options(settings),
        sample_run.analysis,
        sample_run.gate,
        results=sample_run.results,
        formats=list(COVGUARD_FORMATS),
    )


def test_the_trace_matrix_written_beside_is_the_same(
    sample_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (sys.platform.startswith("linux") and threading.active_count() == 1):
        pytest.skip("no fork here: not Linux, or another thread runs")
    serial = _write(sample_run, tmp_path / "serial")
    started: list[int] = []
    real = forked.Forked

    class Counted(real):  # type: ignore[misc, valid-type]
        def __init__(self, work: Any) -> None:
            super().__init__(work)
            started.append(self.pid)

    monkeypatch.setattr(forked, "MIN_ROWS", 0)
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    monkeypatch.setattr(forked, "Forked", Counted)
    beside = _write(sample_run, tmp_path / "beside")
    assert len(started) == 1  # the trace matrix went to a second process
    assert set(beside) == set(serial)
    for name, path in serial.items():
        assert beside[name].read_bytes() == path.read_bytes(), name
    assert not list((tmp_path / "beside").glob(".*.tmp"))


def test_an_error_of_the_second_process_is_raised(
    sample_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (sys.platform.startswith("linux") and threading.active_count() == 1):
        pytest.skip("no fork here: not Linux, or another thread runs")
    monkeypatch.setattr(forked, "MIN_ROWS", 0)
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    out = tmp_path / "out"
    (out / "trace-matrix.xlsx").mkdir(parents=True)  # a folder where the workbook goes
    with pytest.raises(OutputError) as error:
        _write(sample_run, out)
    assert "trace-matrix.xlsx" in str(error.value)
    assert (out / "trace-matrix.csv").is_file()  # written before the workbook failed
    assert not (out / "index.html").exists()  # the page after them is not written
    assert not list(out.glob(".*.tmp"))


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forked.can_fork()
    finally:
        stop.set()
        thread.join()
