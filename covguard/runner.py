"""`covguard test`: run every test executable, with a timeout, and record every test case.

Each executable runs in its own process group with ``COVGUARD_COVERAGE_DIR`` set, so the harness
writes each test case's coverage into its own folder.  When an executable crashes or hangs inside a
test, that test is recorded as an error with incomplete coverage, the process group is killed,
and the executable is started again from the next test (``COVGUARD_FIRST_TEST``): one bad test
does not hide the results of the others.  Unity suites cannot resume; their remaining tests are
reported as not run.

libgcov's "profiling:" complaints on a test's stderr (a stale or foreign .gcda) are recorded: the
coverage collection then refuses the data instead of reporting it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from covguard.build import Area, expand, placeholders, toolchain_for
from covguard.config import Settings
from covguard.errors import ConfigError, TestRunError
from covguard.files import display_path, write_json
from covguard.ingest.test_output import CaseOutput, ParsedOutput, parse_output, split_ids
from covguard.model import ExecutableRun, TestCase
from covguard.procs import kill_all, run_group
from covguard.toolchains import Toolchain

if TYPE_CHECKING:
    from covguard.pytest_runner import PythonRun


@dataclass
class TestRun:
    """All results of one `covguard test`."""

    __test__ = False

    cases: list[TestCase] = field(default_factory=list)
    runs: list[ExecutableRun] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # coverage unit -> its coverage folder
    origin: str = "host"
    variant: str = "default"
    shards: list[str] = field(default_factory=list)  # "K/N" of each shard in it; empty: a whole run
    # the Python suite (its cases and run are in cases/runs too); kept in its own results file,
    # see covguard.pytest_runner.with_python
    python: PythonRun | None = None

    @property
    def infrastructure_problems(self) -> list[str]:
        """Crashes, hangs and unusable output: what makes coverage incomplete."""
        out: list[str] = []
        for r in self.runs:
            if r.crashed:
                out.append(f"{r.executable}: {r.crashed}")
            out.extend(f"{r.executable}: {p}" for p in r.problems)
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "schema": "covguard.results/1",
            "origin": self.origin,
            "variant": self.variant,
            "cases": [asdict(c) for c in self.cases],
            "runs": [asdict(r) for r in self.runs],
            "units": self.units,
            "shards": self.shards,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TestRun:
        cases = [
            TestCase(**{**c, "verifies": tuple(c["verifies"])})
            for c in data["cases"]  # type: ignore[attr-defined]
        ]
        runs = [
            ExecutableRun(**{**r, "problems": tuple(r["problems"])})
            for r in data["runs"]  # type: ignore[attr-defined]
        ]
        return cls(
            cases=cases,
            runs=runs,
            units=dict(data["units"]),  # type: ignore[call-overload]
            origin=str(data.get("origin", "host")),
            variant=str(data.get("variant", "default")),
            shards=[str(s) for s in data.get("shards", [])],  # type: ignore[attr-defined]
        )


def _glob_abs(pattern: str) -> list[Path]:
    base = Path(pattern)
    anchor = Path(base.anchor or ".")
    rel = str(base.relative_to(anchor)) if base.is_absolute() else pattern
    return sorted(anchor.glob(rel)) if rel else []


def discover(settings: Settings, area: Area) -> list[Path]:
    """The test executables matching ``test.executables`` (regular, executable files)."""
    values = placeholders(settings, area)
    found: dict[str, Path] = {}
    patterns = [expand(p, values, "'test.executables'") for p in settings.test_executables]
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else str(settings.root / pattern)
        for path in _glob_abs(full):
            if path.is_file() and os.access(path, os.X_OK) and path.suffix not in (".o", ".gcno", ".gcda"):
                found[str(path)] = path
    if not found:
        raise ConfigError(
            "no test executables found matching " + ", ".join(repr(p) for p in patterns),
            path=settings.config_path,
            hint="build them first (covguard build) and check 'test.executables' in the configuration",
        )
    return [found[k] for k in sorted(found)]


def labels_for(executables: Sequence[Path]) -> dict[Path, str]:
    """Short unique labels: paths relative to the executables' common folder, without suffix."""
    if len(executables) == 1:
        return {executables[0]: executables[0].stem}
    common = Path(os.path.commonpath([str(p.parent) for p in executables]))
    return {p: p.relative_to(common).with_suffix("").as_posix() for p in executables}


def _describe_exit(returncode: int | None, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return f"timed out after {timeout:g} s (hung); killed with its process group"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode} before it finished"


def _run_once(
    command: list[str], env: dict[str, str], cwd: Path, stdout: Path, stderr: Path, timeout: float
) -> tuple[int | None, bool, float]:
    with stdout.open("wb") as out, stderr.open("wb") as err:
        try:
            done = run_group(command, cwd=cwd, env=env, stdout=out, stderr=err, timeout=timeout)
        except OSError as exc:
            raise TestRunError(
                f"cannot start the test executable: {exc.strerror}",
                path=command[-1],
                hint="check that it was built for this machine (toolchain profile) and is executable",
            ) from None
    return done.returncode, done.timed_out, done.seconds


def _profiling_errors(stderr_text: str) -> list[str]:
    return [
        "libgcov reported a coverage data problem: " + line.strip()
        for line in stderr_text.splitlines()
        if "profiling:" in line or "profiling error" in line or "LLVM Profile Error" in line
    ][:5]


@dataclass
class _ExeResult:
    run: ExecutableRun
    cases: list[TestCase]
    units: dict[str, str]


def run_executable(
    settings: Settings,
    toolchain: Toolchain,
    exe: Path,
    label: str,
    run_dir: Path,
    env_base: dict[str, str],
) -> _ExeResult:
    """Run one test executable to the end, resuming after a crash or hang inside a test."""
    exe_dir = run_dir / "logs" / label
    cov_dir = run_dir / "coverage" / label
    for d in (exe_dir, cov_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    timeout = float(settings.test_timeout)
    rel_exe = display_path(exe, settings.root)
    first = 0
    attempt = 0
    crashed: list[str] = []
    problems: list[str] = []
    cases: list[TestCase] = []
    units: dict[str, str] = {}
    fmt_used = "unknown"
    total_time = 0.0
    last_rc: int | None = None
    any_timeout = False
    stdbuf = shutil.which("stdbuf") if toolchain.origin == "host" else None
    suffix = ".profraw" if toolchain.coverage == "llvm" else ""  # clang: one raw profile per unit
    while True:
        env = dict(env_base)
        env["COVGUARD_COVERAGE_DIR"] = str(cov_dir)
        env["COVGUARD_FIRST_TEST"] = str(first)
        env["GCOV_PREFIX"] = str(cov_dir / "all")  # for suites without the harness (Unity)
        env["GCOV_PREFIX_STRIP"] = "0"
        env["LLVM_PROFILE_FILE"] = str(cov_dir / "all.profraw")
        command = toolchain.run_command(exe, env)
        if stdbuf:
            command = [stdbuf, "-oL", "-eL", *command]
        stdout = exe_dir / f"stdout.{attempt}.txt"
        stderr = exe_dir / f"stderr.{attempt}.txt"
        rc, timed_out, took = _run_once(command, env, exe.parent, stdout, stderr, timeout)
        total_time += took
        last_rc = rc
        any_timeout |= timed_out
        text = stdout.read_bytes().decode("utf-8", errors="replace")
        err_text = stderr.read_bytes().decode("utf-8", errors="replace")
        problems += _profiling_errors(err_text)
        problems += toolchain.after_run(cov_dir)  # a target's coverage into the per-test layout
        parsed = parse_output(text, settings.test_format)
        fmt_used = parsed.format if parsed.format != "unknown" else fmt_used
        problems += parsed.problems
        special = None if timed_out else toolchain.exit_reason(rc)  # a target's fault status
        ended_normally = not timed_out and rc is not None and rc >= 0 and special is None
        exit_why = special or _describe_exit(rc, timed_out, timeout)
        if parsed.format == "covguard":
            cases += _covguard_cases(parsed, settings, rel_exe, label, cov_dir, units, suffix)
            unfinished = parsed.unfinished
            if parsed.done and ended_normally:
                break
            reason = exit_why
            if unfinished is None:
                crashed.append(f"{reason} outside any test (after {len(parsed.cases)} tests)")
                break
            crashed.append(f"test '{unfinished.name}' {reason}")
            cases.append(_error_case(unfinished, rel_exe, label, reason, settings))
            units.pop(f"{label}::{unfinished.name}", None)
            first = unfinished.index + 1
            attempt += 1
            if parsed.declared is not None and first >= parsed.declared:
                break
            continue
        if parsed.format == "unity":
            unit = f"{label}::*"
            units[unit] = str(cov_dir / f"all{suffix}")
            complete = parsed.done and ended_normally
            cases += [
                _case(c, rel_exe, label, unit, "complete" if complete else "incomplete", settings)
                for c in parsed.cases
            ]
            if not complete:
                reason = exit_why
                last = parsed.cases[-1].name if parsed.cases else None
                where = f"after test '{last}'" if last else "before its first test"
                crashed.append(f"{reason} {where}")
                cases.append(
                    TestCase(
                        test=f"{label}::<crashed {where}>",
                        executable=rel_exe,
                        name=f"<crashed {where}>",
                        status="error",
                        duration_s=None,
                        message=reason + "; the remaining tests of this Unity suite did not run",
                        file=rel_exe,
                        line=0,
                        verifies=(),
                        coverage_unit=unit,
                        coverage="incomplete",
                    )
                )
            break
        # no recognisable output at all
        reason = exit_why if not ended_normally else f"exited with status {rc}"
        crashed.append(f"printed no test results ({reason})")
        cases.append(
            TestCase(
                test=f"{label}::<no results>",
                executable=rel_exe,
                name="<no results>",
                status="error",
                duration_s=took,
                message=f"the executable printed no covguard or Unity test results ({reason}); "
                f"see {display_path(stdout, settings.root)}",
                file=rel_exe,
                line=0,
                verifies=(),
                coverage_unit="",
                coverage="none",
            )
        )
        break
    if toolchain.coverage_from_target:
        cases, lost = _coverage_came_back(cases, units)
        problems += lost
    run = ExecutableRun(
        executable=rel_exe,
        label=label,
        returncode=last_rc,
        timed_out=any_timeout,
        crashed="; ".join(crashed) if crashed else None,
        duration_s=round(total_time, 3),
        stdout_path=str(exe_dir),
        stderr_path=str(exe_dir),
        coverage_dir=str(cov_dir),
        format=fmt_used,
        problems=tuple(problems),
    )
    return _ExeResult(run=run, cases=cases, units=units)


def _coverage_came_back(cases: list[TestCase], units: dict[str, str]) -> tuple[list[TestCase], list[str]]:
    """Tests that ended on a target without bringing their coverage back become errors with
    coverage 'missing': a result without its evidence is never counted as a pass."""
    out: list[TestCase] = []
    problems: list[str] = []
    for c in cases:
        folder = units.get(c.coverage_unit)
        if c.coverage != "complete" or (folder is not None and any(Path(folder).rglob("*.gcda"))):
            out.append(c)
            continue
        units.pop(c.coverage_unit, None)
        what = f"{c.status} on the target, but no coverage data came back from it"
        problems.append(f"test '{c.name}' {what} (expected in {folder})")
        message = what + "; not counted as verified" + (f" (test message: {c.message})" if c.message else "")
        out.append(replace(c, status="error", message=message, coverage="missing"))
    return out, problems


def _case(c: CaseOutput, rel_exe: str, label: str, unit: str, coverage: str, settings: Settings) -> TestCase:
    return TestCase(
        test=f"{label}::{c.name}",
        executable=rel_exe,
        name=c.name,
        status=c.status or "error",
        duration_s=c.duration_s,
        message=c.message,
        file=_source_path(c.file, settings),
        line=c.line,
        verifies=c.verifies,
        coverage_unit=unit,
        coverage=coverage,
    )


def _source_path(file: str, settings: Settings) -> str:
    p = Path(file)
    if not p.is_absolute():
        p = settings.root / p
    return display_path(p, settings.root) if p.exists() else file


def _covguard_cases(
    parsed: ParsedOutput,
    settings: Settings,
    rel_exe: str,
    label: str,
    cov_dir: Path,
    units: dict[str, str],
    suffix: str = "",
) -> list[TestCase]:
    """Cases of the harness's output; a unit's coverage is ``<cov_dir>/<index>`` (gcov's folder)
    or ``<cov_dir>/<index>.profraw`` (clang: ``suffix``)."""
    out: list[TestCase] = []
    for c in parsed.cases:
        if c.status is None:
            continue
        unit = f"{label}::{c.name}"
        units[unit] = str(cov_dir / f"{c.index}{suffix}")
        out.append(_case(c, rel_exe, label, unit, "complete", settings))
    return out


def _error_case(c: CaseOutput, rel_exe: str, label: str, reason: str, settings: Settings) -> TestCase:
    return TestCase(
        test=f"{label}::{c.name}",
        executable=rel_exe,
        name=c.name,
        status="error",
        duration_s=None,
        message=reason,
        file=_source_path(c.file, settings),
        line=c.line,
        verifies=c.verifies,
        coverage_unit=f"{label}::{c.name}",
        coverage="incomplete",
    )


def run_tests(settings: Settings, *, echo: Callable[[str], None] | None = None) -> TestRun:
    """Discover and run all test executables; write ``results.json``; return the results."""
    toolchain = toolchain_for(settings)
    area = Area(settings)
    executables = discover(settings, area)
    labels = labels_for(executables)  # of all executables: a label is the same in every shard
    shard = str(settings.test_shard or "")
    if shard:
        k, n = (int(x) for x in shard.split("/"))
        executables = executables[k - 1 :: n]
    if settings.values.get("test_select"):  # covguard affected's test.select: only those executables
        from covguard.affected import select_executables

        executables = select_executables(settings, executables, labels)
    run_dir = area.run_dir
    if run_dir.exists():
        shutil.rmtree(run_dir)  # never mix coverage data of an earlier run into this one
    run_dir.mkdir(parents=True)
    env_base = dict(os.environ)
    values = placeholders(settings, area)
    env_base.update({k: expand(v, values, f"'test.env.{k}'") for k, v in settings.test_env.items()})
    for var in ("GCOV_PREFIX", "GCOV_PREFIX_STRIP", "LLVM_PROFILE_FILE"):
        env_base.pop(var, None)
    result = TestRun(origin=toolchain.origin, variant=settings.variant, shards=[shard] if shard else [])

    def one(exe: Path) -> _ExeResult:
        if echo:
            echo(f"test: {labels[exe]}")
        return run_executable(settings, toolchain, exe, labels[exe], run_dir, env_base)

    pool = ThreadPoolExecutor(max_workers=max(1, int(settings.test_jobs)))
    try:
        finished = list(pool.map(one, executables))
    except BaseException:
        # Ctrl-C (or any failure): no test process may outlive covguard
        pool.shutdown(wait=False, cancel_futures=True)
        kill_all()
        raise
    pool.shutdown()
    for r in finished:
        result.runs.append(r.run)
        tagged = {"origin": toolchain.origin, "variant": settings.variant}
        result.cases.extend(TestCase(**{**asdict(c), **tagged}) for c in r.cases)
        result.units.update(r.units)
    write_json(area.results, result.to_json())
    return result


def load_results(settings: Settings) -> TestRun:
    area = Area(settings)
    if not area.results.is_file():
        raise TestRunError(
            "no test results for this toolchain profile",
            path=area.results,
            hint="run 'covguard test' (or 'covguard run') first",
        )
    try:
        return TestRun.from_json(json.loads(area.results.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TestRunError(
            f"the test results are unreadable ({exc})", path=area.results, hint="run 'covguard test' again"
        ) from None


__all__ = ["TestRun", "discover", "labels_for", "load_results", "run_tests", "split_ids"]
