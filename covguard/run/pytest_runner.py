"""`covguard test` for Python software items: one pytest suite, per-test coverage through coverage.py.

The suite configured in ``[python]`` runs once per ``covguard test`` (it does not depend on the
C toolchain profile), in its own work folder ``<work_dir>/python``::

    <python> -m coverage run --rcfile <work>/coveragerc -m pytest -p covguard.pytest_plugin
             -p no:cacheprovider --continue-on-collection-errors <python.args> <python.tests>

* the generated rc file switches on branch (arc) measurement, limits measurement to the folders
  of ``python.sources``, puts the data file in the work folder and saves the data on SIGTERM;
* covguard's pytest plugin (:mod:`covguard.pytest_plugin`) switches coverage.py's dynamic
  context per test phase and writes one JSON line per event; every test case becomes a
  :class:`~covguard.model.TestCase` like a C test's, with ``origin`` ``host-python``, its
  ``verifies`` from the ``verifies`` marker and its coverage unit the test id itself;
* a suite still running after ``python.timeout`` seconds gets SIGTERM from the plugin's own
  watchdog (coverage.py then writes its data) and SIGKILL 30 s later: the test that was running
  is an error with incomplete coverage, the ones that finished keep their results;
* a test file that does not import is an error case, and the other files still run;
* nothing is written into the source tree (no ``.pytest_cache``, no ``__pycache__``).

A test id is the test file relative to the project root and the rest of pytest's node id:
``host_tool/tests/test_frames.py::test_crc_of_known_frame``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covguard.errors import ConfigError, CoverageDataError, InputError, TestRunError
from covguard.files import display_path, sha256_file, write_json, write_text
from covguard.model import ExecutableRun, TestCase
from covguard.procs import Finished, run_group
from covguard.run.options import RunOptions

if TYPE_CHECKING:
    from covguard.frames import CoverageData
    from covguard.run.runner import TestRun

# coverage.py's reader and the frames (pandas) are imported by the functions that need them: a run of
# the C tests (`covguard test`) does not load pandas

# the variables covguard.pytest_plugin reads (not imported from it: it imports pytest, which covguard
# itself does not need)
ENV_RECORD = "COVGUARD_PYTEST_RECORD"
ENV_DEADLINE = "COVGUARD_PYTEST_DEADLINE"
KILL_GRACE_S = 30.0
LABEL = "pytest"
_MAX_MESSAGE = 1000


@dataclass(frozen=True)
class PythonRun:
    """One run of the Python suite: its test cases and where its coverage is."""

    cases: tuple[TestCase, ...]
    run: ExecutableRun
    data_file: str  # coverage.py's data file, relative to the Python work folder (it moves with it)
    units: dict[str, str] = field(default_factory=dict)  # pytest node id -> covguard test id
    source_hashes: dict[str, str] = field(default_factory=dict)  # source (shown) -> sha256 at run time

    def to_json(self) -> dict[str, object]:
        return {
            "schema": "covguard.python-results/1",
            "cases": [asdict(c) for c in self.cases],
            "run": asdict(self.run),
            "data_file": self.data_file,
            "units": self.units,
            "source_hashes": self.source_hashes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PythonRun:
        return cls(
            cases=tuple(TestCase(**{**c, "verifies": tuple(c["verifies"])}) for c in data["cases"]),
            run=ExecutableRun(**{**data["run"], "problems": tuple(data["run"]["problems"])}),
            data_file=str(data["data_file"]),
            units=dict(data["units"]),
            source_hashes=dict(data["source_hashes"]),
        )


def work_folder(options: RunOptions) -> Path:
    return options.work_dir / "python"


def results_path(options: RunOptions) -> Path:
    return work_folder(options) / "results.json"


# ---------------------------------------------------------------------------------------------
# running


def _interpreter(options: RunOptions) -> str:
    configured = str(options.python_python or "")
    if not configured:
        return sys.executable
    found = configured if os.path.isabs(configured) else shutil.which(configured)
    if not found or not os.access(found, os.X_OK):
        raise ConfigError(
            f"the Python interpreter '{configured}' of the Python suite is not found",
            path=options.config_path,
            hint="set 'python.python' to an interpreter on PATH or an absolute path (empty: covguard's own)",
        )
    return found


def _check_interpreter(python: str, options: RunOptions) -> None:
    probe = subprocess.run(
        [python, "-c", "import coverage, pytest, covguard.pytest_plugin"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise ConfigError(
            f"the interpreter of the Python suite ({python}) cannot run it: {last}",
            path=options.config_path,
            hint="install pytest, coverage and covguard into it, or set 'python.python' to one that has them",
        )


def _test_paths(options: RunOptions) -> list[str]:
    paths = list(options.python_tests)
    missing = [p for p in paths if not (options.root / p.split("::", 1)[0]).exists()]
    if missing:
        raise ConfigError(
            "'python.tests' names paths that do not exist: " + ", ".join(missing),
            path=options.config_path,
            hint="give test files or folders relative to the project root",
        )
    return paths


def _source_dirs(options: RunOptions) -> list[str]:
    """The folders coverage.py measures: the fixed prefixes of the ``python.sources`` globs."""
    dirs: set[str] = set()
    for pattern in options.python_sources:
        head = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
        folder = options.root / head if head.endswith("/") or not head else (options.root / head).parent
        dirs.add(str(folder.resolve()))
    return sorted(dirs)


def _rc_text(data_file: Path, source_dirs: list[str]) -> str:
    lines = ["[run]", "branch = True", f"data_file = {data_file}", "parallel = False", "sigterm = True"]
    lines.append("source =")
    lines += [f"    {d}" for d in source_dirs]
    return "\n".join(lines) + "\n"


def run_python_suite(options: RunOptions, *, echo: Callable[[str], None] | None = None) -> PythonRun:
    """Run the configured pytest suite with per-test coverage; write ``python/results.json``."""
    from covguard.ingest.coverage_py import source_files

    root = options.root
    if not options.python_sources:
        raise ConfigError(
            "'python.tests' is set but 'python.sources' is empty: there is no Python code to analyse",
            path=options.config_path,
            hint='add e.g. [python] sources = ["host_tool/host_tool/**"]',
        )
    tests = _test_paths(options)
    python = _interpreter(options)
    _check_interpreter(python, options)
    work = work_folder(options)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    sources = source_files(root, options.python_sources, options.exclude)
    hashes = {display_path(p, root): sha256_file(p) for p in sources}
    data_file = work / "coverage.data"
    if echo:
        echo(f"test: {LABEL} {' '.join(tests)}")
    done = _launch(options, python, tests, work, data_file)
    record, stdout, stderr = work / "tests.jsonl", work / "stdout.txt", work / "stderr.txt"
    events = _read_events(record)
    stopped = done.timed_out or done.returncode == -signal.SIGTERM
    run_label = f"{LABEL} {' '.join(tests)}"
    cases, units, crashed = _cases(events, options, done.returncode, stopped)
    problems = _problems(events, done.returncode, stderr, options)
    run = ExecutableRun(
        executable=run_label,
        label=LABEL,
        returncode=done.returncode,
        timed_out=stopped,
        crashed=crashed,
        duration_s=round(done.seconds, 3),
        stdout_path=str(stdout),
        stderr_path=str(stderr),
        coverage_dir=str(work),
        format="pytest",
        problems=tuple(problems),
    )
    result = PythonRun(tuple(cases), run, data_file.name, units, hashes)
    write_json(results_path(options), result.to_json())
    return result


def _launch(options: RunOptions, python: str, tests: list[str], work: Path, data_file: Path) -> Finished:
    """``coverage run -m pytest`` with covguard's plugin, in its own process group."""
    rc = work / "coveragerc"
    write_text(rc, _rc_text(data_file, _source_dirs(options)))
    command = [
        python, "-m", "coverage", "run", f"--rcfile={rc}", "-m", "pytest",
        "-p", "covguard.pytest_plugin", "-p", "no:cacheprovider", "--continue-on-collection-errors",
        "-q", *options.python_args, *tests,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env.update(
        {
            ENV_RECORD: str(work / "tests.jsonl"),
            ENV_DEADLINE: f"{float(options.python_timeout):g}",
            "PYTHONDONTWRITEBYTECODE": "1",  # nothing written into the source tree
            "COVERAGE_CORE": "ctrace",  # dynamic contexts need a tracer core (not sys.monitoring)
        }
    )
    with (work / "stdout.txt").open("wb") as out, (work / "stderr.txt").open("wb") as err:
        try:
            return run_group(
                command,
                cwd=options.root,
                env=env,
                stdout=out,
                stderr=err,
                timeout=float(options.python_timeout) + KILL_GRACE_S,
            )
        except OSError as exc:
            raise TestRunError(
                f"cannot start the Python suite: {exc.strerror}", path=python, hint="check 'python.python'"
            ) from None


def _read_events(record: Path) -> list[dict[str, Any]]:
    if not record.is_file():
        return []
    events: list[dict[str, Any]] = []
    for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the last line of a suite killed while writing it
        if isinstance(event, dict):
            events.append(event)
    return events


def _def_lines(path: Path) -> dict[int, int]:
    """First line (decorator) -> ``def`` line of every function of a test file."""
    from covguard.trace.python_ast import functions_of, parse

    try:
        tree = parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, InputError):  # pytest reports a file that does not parse
        return {}
    return {f.first_line: f.line_start for f in functions_of(tree)}


def _collection_error(event: dict[str, Any], options: RunOptions) -> TestCase:
    """A test file pytest could not collect (an import error, a syntax error): an error case."""
    from covguard.ingest.coverage_py import ORIGIN

    shown = display_path(event.get("path") or options.root / event["nodeid"], options.root)
    return TestCase(
        test=f"{shown}::<collection error>",
        executable=shown,
        name="<collection error>",
        status="error",
        duration_s=None,
        message=f"the test file could not be collected: {event.get('message', '')}"[:_MAX_MESSAGE],
        file=shown,
        line=0,
        verifies=(),
        coverage_unit="",
        coverage="none",
        origin=ORIGIN,
        variant=options.variant,
    )


def _cases(
    events: list[dict[str, Any]], options: RunOptions, returncode: int | None, stopped: bool
) -> tuple[list[TestCase], dict[str, str], str | None]:
    from covguard.ingest.coverage_py import ORIGIN

    root = options.root
    results = {e["nodeid"]: e for e in events if e.get("event") == "result"}
    def_lines: dict[str, dict[int, int]] = {}
    cases: list[TestCase] = []
    units: dict[str, str] = {}
    crashed: str | None = None
    finished = any(e.get("event") == "finish" for e in events)
    for e in events:
        kind = e.get("event")
        if kind == "collect_error":
            cases.append(_collection_error(e, options))
            continue
        if kind != "start":
            continue
        nodeid = str(e["nodeid"])
        path = Path(str(e["path"]))
        shown = display_path(path, root)
        name = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
        test = f"{shown}::{name}"
        if shown not in def_lines:
            def_lines[shown] = _def_lines(path)
        lines = def_lines[shown]
        line = int(e.get("line") or 0)
        outcome = results.get(nodeid)
        if outcome is not None:
            status, message, coverage = str(outcome["outcome"]), str(outcome["message"]), "complete"
            duration: float | None = float(outcome["duration_s"])
        else:
            how = (
                f"still running when the suite was stopped after {float(options.python_timeout):g} s (hung)"
                if stopped
                else f"the Python suite ended inside this test (exit status {returncode})"
            )
            status, message, coverage, duration = "error", how, "incomplete", None
            crashed = f"test '{name}' {how}"
        units[nodeid] = test
        cases.append(
            TestCase(
                test=test,
                executable=shown,
                name=name,
                status=status,
                duration_s=duration,
                message=message[:_MAX_MESSAGE],
                file=shown,
                line=lines.get(line, line),
                verifies=tuple(str(v) for v in e.get("verifies", [])),
                coverage_unit=test,
                coverage=coverage,
                origin=ORIGIN,
                variant=options.variant,
            )
        )
    if crashed is None and not finished:
        crashed = (
            f"stopped after {float(options.python_timeout):g} s"
            if stopped
            else f"pytest ended without finishing the session (exit status {returncode})"
        )
    return cases, units, crashed


def _problems(
    events: list[dict[str, Any]], returncode: int | None, stderr: Path, options: RunOptions
) -> list[str]:
    """pytest's own failures: usage errors, internal errors, no tests at all."""
    status = next((int(e["exitstatus"]) for e in events if e.get("event") == "finish"), returncode)
    if status in (0, 1, None):
        return []
    shown = display_path(stderr, options.root)
    if status == 5:
        return [f"pytest collected no tests from {', '.join(options.python_tests)}"]
    tail = stderr.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    detail = " / ".join(t.strip() for t in tail) or f"see {shown}"
    return [f"pytest exited with status {status}: {detail}"]


def load_python_run(options: RunOptions) -> PythonRun | None:
    """The last Python suite run, ``None`` when no Python suite is configured."""
    if not options.python_tests:
        return None
    path = results_path(options)
    if not path.is_file():
        raise TestRunError(
            "no results of the Python suite", path=path, hint="run 'covguard test' (or 'covguard run') first"
        )
    try:
        return PythonRun.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TestRunError(
            f"the Python suite's results are unreadable ({exc})", path=path, hint="run 'covguard test' again"
        ) from None


def with_python(results: TestRun, python: PythonRun | None) -> TestRun:
    """``results`` (the C tests) with the Python suite's cases and run added."""
    if python is None:
        return results
    return replace(
        results, cases=[*results.cases, *python.cases], runs=[*results.runs, python.run], python=python
    )


def python_coverage(options: RunOptions, python: PythonRun) -> CoverageData:
    """The per-test coverage of the Python suite's run, checked against the sources it ran."""
    from covguard.ingest.coverage_py import read_coverage, source_files

    root = options.root
    files = source_files(root, options.python_sources, options.exclude)
    now = {display_path(p, root): p for p in files}
    stale = [
        f"{shown}: changed since the Python suite ran" if shown in now else f"{shown}: missing"
        for shown, digest in sorted(python.source_hashes.items())
        if shown not in now or sha256_file(now[shown]) != digest
    ]
    stale += [
        f"{shown}: new since the Python suite ran" for shown in sorted(set(now) - set(python.source_hashes))
    ]
    if stale:
        raise CoverageDataError(
            "Python sources differ from the ones that were tested:\n  " + "\n  ".join(stale),
            hint="run 'covguard test' (or 'covguard run') again",
        )
    data_file = work_folder(options) / python.data_file  # an absolute path stays as it is
    if not data_file.is_file() and any(c.status in ("passed", "failed") for c in python.cases):
        raise CoverageDataError(
            "the Python tests ran but left no coverage.py data",
            path=data_file,
            hint=f"see {python.run.stderr_path}; run 'covguard test' again",
        )
    return read_coverage(
        data_file if data_file.is_file() else None,  # None: nothing ran, every function unexecuted
        files,
        root=root,
        units=python.units,
        variant=options.variant,
    )


def with_python_coverage(options: RunOptions, data: CoverageData, results: TestRun) -> CoverageData:
    """``data`` (the C coverage) with the Python suite's coverage merged in, when it ran."""
    if results.python is None:
        return data
    from covguard.frames import merge_coverage

    return merge_coverage([data, python_coverage(options, results.python)])


__all__ = [
    "PythonRun",
    "load_python_run",
    "python_coverage",
    "run_python_suite",
    "with_python",
    "with_python_coverage",
]
