"""`covguard test`: run every test executable, with a timeout, and record every test case.

Each executable runs in its own process group with ``COVGUARD_COVERAGE_DIR`` set, so the harness
writes each test case's coverage into its own folder.  When an executable crashes or hangs inside a
test, that test is recorded as an error with incomplete coverage, the process group is killed,
and the executable is started again from the next test (``COVGUARD_FIRST_TEST``): one bad test
does not hide the results of the others.  Unity suites linked by covguard (host-gcc: its Unity
hooks, ``runtime/covguard_unity.c``) are per test case and resume the same way; Unity output
without the hooks is attributed per executable, and after a crash its remaining tests are reported
as not run.  Every protocol line must carry the run's nonce (``COVGUARD_NONCE``); lines that break
the protocol, or an exit status that contradicts the results, make the executable an error.

With ``test.select`` (``--select FILE``) only the selected test cases run (:mod:`covguard.run.selection`).

libgcov's "profiling:" complaints on a test's stderr (a stale or foreign .gcda) are recorded: the
coverage collection then refuses the data instead of reporting it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from covguard.builder.area import Area, discover, expand, placeholders
from covguard.builder.toolchains import toolchain_for
from covguard.builder.toolchains.base import Toolchain
from covguard.errors import ConfigError, TestRunError
from covguard.files import display_path, write_json
from covguard.ingest.test_output import CaseOutput, ParsedOutput, parse_output, split_ids
from covguard.model import ExecutableRun, TestCase
from covguard.procs import kill_all
from covguard.run.invocations import Invocation, exit_status_case
from covguard.run.options import RunOptions
from covguard.run.process import (
    _describe_exit,
    _profiling_errors,
    _run_once,
    _source_path,
    fresh_folders,
)
from covguard.run.selection import (
    keep_selected,
    load_selection,
    missing_ids,
    only_env,
    select_invocations,
    selected_names,
)
from covguard.trace.definitions import strays_from_json

if TYPE_CHECKING:
    from covguard.run.pytest_runner import PythonRun


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
    # see covguard.run.pytest_runner.with_python
    python: PythonRun | None = None
    # covguard test --select: the selection file, how many ids, ids no test answered (covguard.run.selection)
    selection: dict[str, object] | None = None
    unattached: list[dict[str, object]] = field(default_factory=list)  # stray @verifies of definitions

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
            "selection": self.selection,
            "unattached_verifies": self.unattached,
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
            selection=_mapping(data.get("selection")),
            unattached=strays_from_json(data.get("unattached_verifies")),
        )


def _mapping(value: object) -> dict[str, object] | None:
    """A recorded selection (``file``, ``tests``, ``missing``): any other value is not one."""
    if not isinstance(value, dict):
        return None
    return {
        "file": str(value.get("file", ""))[:1000],
        "tests": value.get("tests"),
        "missing": value.get("missing"),
    }


def labels_for(executables: Sequence[Path], bases: Sequence[Path] = ()) -> dict[Path, str]:
    """Short unique labels (the first part of every test id).

    With ``bases`` (the fixed folders of the ``test.executables`` patterns, see
    :func:`pattern_bases`) a label is the path below the deepest base that holds the executable,
    without suffix: it does not change when another executable is added.  Labels that collide
    (``t.elf`` and ``t.bin``) keep their suffix.  Without bases: relative to the executables'
    common folder."""
    if not executables:
        return {}
    if not bases:
        if len(executables) == 1:
            return {executables[0]: executables[0].stem}
        common = Path(os.path.commonpath([str(p.parent) for p in executables]))
        return {p: p.relative_to(common).with_suffix("").as_posix() for p in executables}
    labels: dict[Path, str] = {}
    for exe in executables:
        holders = [b for b in bases if exe.is_relative_to(b) and exe != b]
        base = max(holders, key=lambda b: len(b.parts)) if holders else exe.parent
        labels[exe] = exe.relative_to(base).with_suffix("").as_posix()
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    for exe, label in labels.items():
        if counts[label] > 1:
            labels[exe] = label + exe.suffix
    return labels


def pattern_bases(options: RunOptions, area: Area) -> list[Path]:
    """The folder each ``test.executables`` pattern starts with (before its first wildcard)."""
    values = placeholders(options.build, area)
    out: list[Path] = []
    for pattern in options.test_executables:
        full = Path(expand(pattern, values, "'test.executables'"))
        full = full if full.is_absolute() else options.root / full
        base = Path(full.anchor)
        for part in full.parts[1:-1]:
            if any(c in part for c in "*?["):
                break
            base = base / part
        out.append(base)
    return out


@dataclass
class _ExeResult:
    run: ExecutableRun
    cases: list[TestCase]
    units: dict[str, str]


def run_executable(
    options: RunOptions,
    toolchain: Toolchain,
    exe: Path,
    label: str,
    run_dir: Path,
    env_base: dict[str, str],
    inv: Invocation | None = None,
) -> _ExeResult:
    """Run one test executable to the end, resuming after a crash or hang inside a test;
    ``inv``: how to run it (arguments, stdin, environment, folder, verdict;
    :mod:`covguard.run.invocations`)."""
    from covguard.run.frameworks import framework_of, run_framework_executable  # imports this module

    framework = framework_of(exe) if inv is None else None  # GoogleTest, CppUTest, cmocka hooks
    done = framework and run_framework_executable(
        options, toolchain, exe, label, run_dir, env_base, framework
    )
    if done:
        return _ExeResult(*done)
    x = _Exe.prepare(options, toolchain, exe, label, run_dir, env_base, inv)
    p = _Progress()
    while True:
        attempt = _attempt(x, p)
        if attempt.parsed.format == "covguard" or attempt.parsed.hooked:
            if _per_test_output(x, p, attempt):  # a test crashed or hung: start after it
                continue
        elif attempt.parsed.format == "unity":
            _unity_output(x, p, attempt)
        else:  # no recognisable output: one test, judged by its exit status
            _exit_status_output(x, p, attempt)
        break
    return _finish(x, p)


@dataclass(frozen=True)
class _Exe:
    """One test executable to run: what stays the same over its attempts."""

    options: RunOptions
    toolchain: Toolchain
    exe: Path
    label: str
    inv: Invocation | None
    env_base: dict[str, str]
    rel_exe: str  # as results show it
    exe_dir: Path  # its output logs
    cov_dir: Path  # its coverage, a folder per coverage unit
    timeout: float
    stdbuf: str | None  # line-buffered output (host only)
    suffix: str  # of a unit's coverage: clang writes one raw profile per unit
    nonce: str  # in every protocol line: a test cannot print a valid one by accident

    @classmethod
    def prepare(
        cls,
        options: RunOptions,
        toolchain: Toolchain,
        exe: Path,
        label: str,
        run_dir: Path,
        env_base: dict[str, str],
        inv: Invocation | None,
    ) -> _Exe:
        """The executable's options, its log and coverage folders made empty."""
        exe_dir, cov_dir = fresh_folders(run_dir, inv.folder if inv else label)
        return cls(
            options=options,
            toolchain=toolchain,
            exe=exe,
            label=label,
            inv=inv,
            env_base=env_base,
            rel_exe=display_path(exe, options.root),
            exe_dir=exe_dir,
            cov_dir=cov_dir,
            timeout=float(inv.timeout if inv and inv.timeout else options.test_timeout),
            stdbuf=shutil.which("stdbuf") if toolchain.origin == "host" else None,
            suffix=".profraw" if toolchain.coverage == "llvm" else "",
            nonce=secrets.token_hex(8),
        )


@dataclass
class _Progress:
    """What the attempts at one executable have gathered so far."""

    first: int = 0  # the test to start at (COVGUARD_FIRST_TEST)
    attempt: int = 0
    crashed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    cases: list[TestCase] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)
    fmt_used: str = "unknown"
    total_time: float = 0.0
    last_rc: int | None = None
    any_timeout: bool = False


@dataclass(frozen=True)
class _Attempt:
    """One start of the executable: how it ended and what it printed."""

    rc: int | None
    took: float
    text: str  # stdout
    err_text: str  # stderr
    parsed: ParsedOutput
    ended_normally: bool
    exit_why: str


def _attempt(x: _Exe, p: _Progress) -> _Attempt:
    """Start the executable at test ``p.first``, wait for its end, read its output."""
    inv = x.inv
    env = {**x.env_base, **dict(inv.env if inv else ())}
    env["COVGUARD_COVERAGE_DIR"] = str(x.cov_dir)
    env["COVGUARD_FIRST_TEST"] = str(p.first)
    env["GCOV_PREFIX"] = str(x.cov_dir / "all")  # for suites without the harness (Unity)
    env["GCOV_PREFIX_STRIP"] = "0"
    env["LLVM_PROFILE_FILE"] = str(x.cov_dir / "all.profraw")
    env["COVGUARD_NONCE"] = x.nonce
    command = [*x.toolchain.run_command(x.exe, env), *(inv.args if inv else ())]
    if x.stdbuf:
        command = [x.stdbuf, "-oL", "-eL", *command]
    stdout = x.exe_dir / f"stdout.{p.attempt}.txt"
    stderr = x.exe_dir / f"stderr.{p.attempt}.txt"
    cwd = Path(inv.cwd) if inv and inv.cwd else x.exe.parent
    rc, timed_out, took = _run_once(command, env, cwd, stdout, stderr, x.timeout, inv.stdin if inv else None)
    p.total_time += took
    p.last_rc = rc
    p.any_timeout |= timed_out
    text = stdout.read_bytes().decode("utf-8", errors="replace")
    err_text = stderr.read_bytes().decode("utf-8", errors="replace")
    p.problems += _profiling_errors(err_text)
    p.problems += x.toolchain.after_run(x.cov_dir)  # a target's coverage into the per-test layout
    fmt = inv.format if inv and inv.format != "auto" else x.options.test_format
    parsed = parse_output(text, fmt, x.nonce)
    p.fmt_used = parsed.format if parsed.format != "unknown" else p.fmt_used
    p.problems += parsed.problems
    p.refused += parsed.refused
    special = None if timed_out else x.toolchain.exit_reason(rc)  # a target's fault status
    return _Attempt(
        rc=rc,
        took=took,
        text=text,
        err_text=err_text,
        parsed=parsed,
        ended_normally=not timed_out and rc is not None and rc >= 0 and special is None,
        exit_why=special or _describe_exit(rc, timed_out, x.timeout),
    )


def _per_test_output(x: _Exe, p: _Progress, a: _Attempt) -> bool:
    """covguard's protocol (its harness, or a framework's covguard hooks): every test case with
    its own coverage.  True when the executable is to start again after a test that crashed."""
    parsed = a.parsed
    p.cases += _covguard_cases(parsed, x.options, x.rel_exe, x.label, x.cov_dir, p.units, x.suffix, p.first)
    unfinished = parsed.unfinished
    if parsed.done and a.ended_normally:
        p.cases += exit_status_check(parsed, a.rc, x.rel_exe, x.label, p.crashed, p.first)
        return False
    reason = a.exit_why
    if unfinished is not None and unfinished.index < p.first:
        p.crashed.append(f"{reason} in test '{unfinished.name}', which had run before the restart")
        return False
    if unfinished is None:
        p.crashed.append(f"{reason} outside any test (after {len(parsed.cases)} tests)")
        return False
    p.crashed.append(f"test '{unfinished.name}' {reason}")
    p.cases.append(_error_case(unfinished, x.rel_exe, x.label, reason, x.options))
    p.units.pop(f"{x.label}::{unfinished.name}", None)
    p.first = unfinished.index + 1
    p.attempt += 1
    return not (parsed.declared is not None and p.first >= parsed.declared)


def _unity_output(x: _Exe, p: _Progress, a: _Attempt) -> None:
    """Unity's output without covguard's hooks: the coverage is the whole executable's; after a
    crash, the remaining tests are reported as not run."""
    parsed = a.parsed
    unit = f"{x.label}::*"
    p.units[unit] = str(x.cov_dir / f"all{x.suffix}")
    complete = parsed.done and a.ended_normally
    p.cases += [
        _case(c, x.rel_exe, x.label, unit, "complete" if complete else "incomplete", x.options)
        for c in parsed.cases
    ]
    if complete:
        p.cases += exit_status_check(parsed, a.rc, x.rel_exe, x.label, p.crashed)
        return
    reason = a.exit_why
    last = parsed.cases[-1].name if parsed.cases else None
    where = f"after test '{last}'" if last else "before its first test"
    p.crashed.append(f"{reason} {where}")
    p.cases.append(
        TestCase(
            test=f"{x.label}::<crashed {where}>",
            executable=x.rel_exe,
            name=f"<crashed {where}>",
            status="error",
            duration_s=None,
            message=reason + "; the remaining tests of this Unity suite did not run",
            file=x.rel_exe,
            line=0,
            verifies=(),
            coverage_unit=unit,
            coverage="incomplete",
        )
    )


def _exit_status_output(x: _Exe, p: _Progress, a: _Attempt) -> None:
    """No recognisable output: one test, judged by its exit status, its coverage the process's."""
    p.fmt_used = "exit-status"
    case, crash = exit_status_case(
        x.inv,
        a.rc,
        None if a.ended_normally else a.exit_why,
        a.text + "\n" + a.err_text,
        a.took,
        x.rel_exe,
        x.label,
        forced=x.options.test_format == "exit-status",
    )
    if case.coverage == "complete":
        p.units[case.coverage_unit] = str(x.cov_dir / f"all{x.suffix}")
    if crash:
        p.crashed.append(crash)
    p.cases.append(case)


def _finish(x: _Exe, p: _Progress) -> _ExeResult:
    """The executable's record, once its last attempt ended."""
    cases = p.cases
    problems = p.problems
    if p.refused:
        cases.append(_refused_case(p.refused, x.rel_exe, x.label))
    if x.toolchain.coverage_from_target:
        cases, lost = _coverage_came_back(cases, p.units)
        problems += lost
    if x.inv and x.inv.verifies:
        verifies = x.inv.verifies
        cases = [replace(c, verifies=tuple(dict.fromkeys((*c.verifies, *verifies)))) for c in cases]
    run = ExecutableRun(
        executable=x.rel_exe,
        label=x.label,
        returncode=p.last_rc,
        timed_out=p.any_timeout,
        crashed="; ".join(p.crashed) if p.crashed else None,
        duration_s=round(p.total_time, 3),
        stdout_path=str(x.exe_dir),
        stderr_path=str(x.exe_dir),
        coverage_dir=str(x.cov_dir),
        format=p.fmt_used,
        problems=tuple(problems),
        nonce=x.nonce,
    )
    return _ExeResult(run=run, cases=cases, units=p.units)


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


def _case(c: CaseOutput, rel_exe: str, label: str, unit: str, coverage: str, options: RunOptions) -> TestCase:
    return TestCase(
        test=f"{label}::{c.name}",
        executable=rel_exe,
        name=c.name,
        status=c.status or "error",
        duration_s=c.duration_s,
        message=c.message,
        file=_source_path(c.file, options),
        line=c.line,
        verifies=c.verifies,
        coverage_unit=unit,
        coverage=coverage,
    )


def _covguard_cases(
    parsed: ParsedOutput,
    options: RunOptions,
    rel_exe: str,
    label: str,
    cov_dir: Path,
    units: dict[str, str],
    suffix: str = "",
    first: int = 0,
) -> list[TestCase]:
    """Cases of the harness's output (or of a Unity suite with covguard's hooks); a unit's coverage
    is ``<cov_dir>/<index>`` (gcov's folder) or ``<cov_dir>/<index>.profraw`` (clang: ``suffix``).
    Cases before ``first`` ran in an earlier attempt (a resumed Unity suite prints them again)."""
    out: list[TestCase] = []
    for c in parsed.cases:
        if c.status is None or c.index < first:
            continue
        unit = f"{label}::{c.name}"
        units[unit] = str(cov_dir / f"{c.index}{suffix}")
        out.append(_case(c, rel_exe, label, unit, "complete", options))
    return out


def exit_status_check(
    parsed: ParsedOutput, rc: int | None, rel_exe: str, label: str, crashed: list[str], first: int = 0
) -> list[TestCase]:
    """The executable's exit status must agree with the results it reported: the harness exits 1
    when a test failed and 0 otherwise; a Unity ``main`` returns ``UNITY_END()``, the number of
    failures (a runner that returns 0 anyway is accepted).  Otherwise (a test that printed results
    and then exited, a forged summary) the executable is an error."""
    counted = ("failed", "error") if parsed.format == "covguard" else ("failed",)
    failed = sum(1 for c in parsed.cases if c.status in counted and c.index >= first)
    if parsed.format == "covguard":
        ok = rc == (1 if failed else 0)
        expected = "1" if failed else "0"
    else:
        ok = rc == 0 or (failed > 0 and rc == failed % 256)
        expected = f"0 or {failed % 256}" if failed else "0"
    if ok:
        return []
    why = (
        f"exit status {rc} does not match the results it reported ({failed} failed; expected {expected}): "
        "its results are not trusted"
    )
    crashed.append(why)
    return [
        TestCase(
            test=f"{label}::<exit status>",
            executable=rel_exe,
            name="<exit status>",
            status="error",
            duration_s=None,
            message=why,
            file=rel_exe,
            line=0,
            verifies=(),
            coverage_unit="",
            coverage="none",
        )
    ]


def _refused_case(refused: list[str], rel_exe: str, label: str) -> TestCase:
    """The executable printed lines that break the result protocol (forged or out of order): they
    were refused, and the executable is an error, never a pass."""
    shown = "; ".join(refused[:3]) + (f"; and {len(refused) - 3} more" if len(refused) > 3 else "")
    return TestCase(
        test=f"{label}::<protocol>",
        executable=rel_exe,
        name="<protocol>",
        status="error",
        duration_s=None,
        message=f"its output breaks covguard's result protocol, so its results are not trusted: {shown}",
        file=rel_exe,
        line=0,
        verifies=(),
        coverage_unit="",
        coverage="none",
    )


def _error_case(c: CaseOutput, rel_exe: str, label: str, reason: str, options: RunOptions) -> TestCase:
    return TestCase(
        test=f"{label}::{c.name}",
        executable=rel_exe,
        name=c.name,
        status="error",
        duration_s=None,
        message=reason,
        file=_source_path(c.file, options),
        line=c.line,
        verifies=c.verifies,
        coverage_unit=f"{label}::{c.name}",
        coverage="incomplete",
    )


def run_tests(options: RunOptions, *, echo: Callable[[str], None] | None = None) -> TestRun:
    """Discover and run all test executables and invocations; write ``results.json``; return the results."""
    from covguard.run.test_plan import configured, plan

    toolchain = toolchain_for(options.build)
    area = Area(options.build)
    with_invocations = configured(options)
    if with_invocations and toolchain.origin != "host":
        raise ConfigError(
            "test invocations, CTest and custom runners run on the host only",
            path=options.config_path,
            hint="use them with the host-gcc or host-clang profile",
        )
    executables = discover(options.build, area, required=not with_invocations)
    # of all executables, below the patterns' folders: a label is the same in every shard, and
    # when another executable is added
    labels = labels_for(executables, pattern_bases(options, area))
    selection = load_selection(options)  # covguard test --select: only the selected test cases
    if selection is not None:
        executables = [e for e in executables if selection.holds(labels[e])]
    env_base = dict(os.environ)
    values = placeholders(options.build, area)
    env_base.update({k: expand(v, values, f"'test.env.{k}'") for k, v in options.test_env.items()})
    for var in ("GCOV_PREFIX", "GCOV_PREFIX_STRIP", "LLVM_PROFILE_FILE"):
        env_base.pop(var, None)
    planned = plan(options, area, env_base) if with_invocations else None
    jobs: list[tuple[Path, str, Invocation | None]] = [(exe, labels[exe], None) for exe in executables]
    if planned is not None:
        taken = set(labels.values())
        for inv in planned.invocations:
            if inv.name in taken:
                raise ConfigError(
                    f"the test '{inv.name}' has the name of a test executable",
                    path=options.config_path,
                    hint="rename it, or leave that executable out of 'test.executables'",
                )
        chosen = select_invocations(selection, planned.invocations)
        jobs += [(Path(inv.program), inv.name, inv) for inv in chosen]
    shard = str(options.test_shard or "")
    if shard:
        k, n = (int(x) for x in shard.split("/"))
        jobs = jobs[k - 1 :: n]
    run_dir = area.run_dir
    # a run that stops part-way leaves nothing, never the old results over a half-rewritten folder
    area.results.unlink(missing_ok=True)
    if run_dir.exists():
        shutil.rmtree(run_dir)  # never mix coverage data of an earlier run into this one
    run_dir.mkdir(parents=True)
    result = TestRun(origin=toolchain.origin, variant=options.variant, shards=[shard] if shard else [])

    def one(job: tuple[Path, str, Invocation | None]) -> _ExeResult:
        exe, label, inv = job
        if echo:
            echo(f"test: {label}")
        env = {**env_base, **only_env(selection, label)}
        done = run_executable(options, toolchain, exe, label, run_dir, env, inv)
        return replace(done, cases=keep_selected(done.cases, done.units, selected_names(env)))

    pool = ThreadPoolExecutor(max_workers=max(1, int(options.test_jobs)))
    try:
        finished = list(pool.map(one, jobs))
    except BaseException:
        # Ctrl-C (or any failure): no test process may outlive covguard
        pool.shutdown(wait=False, cancel_futures=True)
        kill_all()
        raise
    pool.shutdown()
    tagged = {"origin": toolchain.origin, "variant": options.variant}
    for r in finished:
        result.runs.append(r.run)
        result.cases.extend(TestCase(**{**asdict(c), **tagged}) for c in r.cases)
        result.units.update(r.units)
    if planned is not None and (not shard or shard.startswith("1/")):
        not_run = [c for c in planned.not_run if selection is None or selection.holds(c.test)]
        result.cases.extend(TestCase(**{**asdict(c), **tagged}) for c in not_run)
        result.unattached = [asdict(t) for t in planned.stray]
    if selection is not None:
        result.selection = selection.to_json(missing_ids(selection, result.cases))
    write_json(area.results, result.to_json())
    return result


def load_results(options: RunOptions) -> TestRun:
    area = Area(options.build)
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


__all__ = ["TestRun", "labels_for", "load_results", "run_tests", "split_ids"]
