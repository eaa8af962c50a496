"""covguard's pytest plugin: the ``verifies`` marker, and a record of every test when covguard runs pytest.

Tests declare the requirements they verify with a marker::

    @pytest.mark.verifies("PUMP-SRS-031")
    def test_temp_basal_range_is_checked() -> None: ...

pytest loads this plugin through its ``pytest11`` entry point wherever covguard is installed.
By itself it only registers the marker (so ``--strict-markers`` accepts it): it changes nothing
else in a pytest run.  Only when covguard drives the suite (``covguard test``), with the
environment variable :data:`ENV_RECORD` naming a file, does it also

* write one JSON line per event to that file, flushed at once so that a suite killed after a
  timeout still leaves the results of the tests that finished: ``start`` (test id, file, line,
  the marker's requirement IDs), ``result`` (outcome, duration, message), ``collect_error`` and
  ``finish`` (pytest's exit status);
* stop the session with SIGTERM after :data:`ENV_DEADLINE` seconds, when that variable is set;
* switch coverage.py's dynamic context to ``<nodeid>|setup``, ``|run`` and ``|teardown`` around
  each test's phases (the labels pytest-cov's ``--cov-context=test`` writes), and back to the
  empty context after it, when coverage.py is measuring the process (``coverage run -m pytest``).

This module imports nothing of covguard, so that it loads in any interpreter that has pytest.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

import pytest

ENV_RECORD = "COVGUARD_PYTEST_RECORD"
"""Environment variable naming the JSON-lines file covguard reads the results from."""
ENV_DEADLINE = "COVGUARD_PYTEST_DEADLINE"
"""Seconds after which the recording session stops itself with SIGTERM (coverage.py, run with
``sigterm = True``, then saves its data; covguard kills the process group later if it hangs on)."""

MARKER = "verifies"
PHASES = {"setup": "setup", "call": "run", "teardown": "teardown"}
"""pytest phase -> the suffix of the coverage context label (pytest-cov's names)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*ids): the requirement IDs this test verifies (read by covguard)",
    )
    path = os.environ.get(ENV_RECORD)
    if path:
        config.pluginmanager.register(Recorder(Path(path), config.rootpath), "covguard-recorder")
        deadline = float(os.environ.get(ENV_DEADLINE) or 0)
        if deadline > 0:
            watchdog = threading.Timer(deadline, os.kill, (os.getpid(), signal.SIGTERM))
            watchdog.daemon = True
            watchdog.start()


def marker_ids(item: pytest.Item) -> list[str]:
    """The requirement IDs of every ``verifies`` marker on ``item``, in order, as strings."""
    ids: list[str] = []
    for mark in item.iter_markers(MARKER):
        for arg in mark.args:
            values = arg if isinstance(arg, list | tuple) else [arg]
            ids.extend(str(v) for v in values)
    return ids


def _first_line(item: pytest.Item) -> int:
    """The 1-based line where the test function's definition starts (its first decorator)."""
    function = getattr(item, "function", None)
    code = getattr(function, "__code__", None)
    if code is not None:
        return int(code.co_firstlineno)
    return int(item.location[1] or 0) + 1


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """A short message for a failure or skip: the crash line, or the last line of the report."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (file, line, reason)
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message).strip().splitlines()[0]  # pytest's explanation lines follow
    text = report.longreprtext.strip()
    return text.splitlines()[-1] if text else ""


class Recorder:
    """Writes the events of one pytest session and switches coverage contexts (see the module)."""

    def __init__(self, path: Path, rootpath: Path) -> None:
        self.path = path
        self.rootpath = rootpath
        self.handle: IO[str] | None = None
        self.outcomes: dict[str, dict[str, Any]] = {}

    def _write(self, record: dict[str, Any]) -> None:
        if self.handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("a", encoding="utf-8")
        self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.handle.flush()

    @staticmethod
    def _switch(label: str) -> None:
        try:
            import coverage
        except ImportError:
            return
        cov = coverage.Coverage.current()
        if cov is not None:
            cov.switch_context(label)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self._write(
                {
                    "event": "collect_error",
                    "nodeid": report.nodeid,
                    "path": str(self.rootpath / report.nodeid.split("::", 1)[0]),
                    "message": _message(report),
                }
            )

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        self._write(
            {
                "event": "start",
                "nodeid": item.nodeid,
                "path": str(item.path),
                "line": _first_line(item),
                "function": getattr(getattr(item, "function", None), "__qualname__", item.name),
                "verifies": marker_ids(item),
            }
        )
        self.outcomes[item.nodeid] = {"outcome": "passed", "duration_s": 0.0, "message": ""}
        yield
        self._switch("")
        self._write({"event": "result", "nodeid": item.nodeid, **self.outcomes.pop(item.nodeid)})

    def _phase(self, item: pytest.Item, when: str) -> None:
        self._switch(f"{item.nodeid}|{PHASES[when]}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self._phase(item, "setup")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self._phase(item, "call")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._phase(item, "teardown")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.outcomes.get(report.nodeid)
        if state is None:
            return
        state["duration_s"] = round(state["duration_s"] + float(report.duration), 6)
        if report.outcome == "passed" or state["outcome"] in ("failed", "error"):
            return
        if report.outcome == "skipped":
            if state["outcome"] == "passed":
                state.update(outcome="skipped", message=_message(report))
            return
        # failed: in the test itself, or in its fixtures (an error, as pytest reports it)
        state.update(outcome="failed" if report.when == "call" else "error", message=_message(report))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._write({"event": "finish", "exitstatus": int(exitstatus)})
        if self.handle is not None:
            self.handle.close()
            self.handle = None
