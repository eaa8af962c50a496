"""GoogleTest, CppUTest and cmocka executables: one result and one coverage folder per test case.

covguard's compiler wrapper links a small hook into every test executable that links one of these
frameworks (``runtime/frameworks``: a GoogleTest event listener, a CppUTest plugin, a wrapper of
cmocka's group runner), registered by a static initialiser, so tests, ``main`` and build files stay
as they are.  Under ``covguard test`` the hook resets the coverage counters before each test case
and writes them after it into ``<coverage>/<index>/``, and writes a record file (see
``runtime/frameworks/cg_record.h``): which tests will run, which began and how each ended.

A crash or hang inside a test case makes that case an error with incomplete coverage; the
executable is started again for the cases after it (GoogleTest: ``GTEST_FILTER`` naming them;
CppUTest: one run per remaining case, ``-sg GROUP -sn NAME``; cmocka: the hook leaves out the cases
before ``COVGUARD_FIRST_TEST``).  Failure messages: GoogleTest's from the listener; CppUTest's and
cmocka's statuses and messages from their standard output.  The record is input covguard did not
write: its size is bounded and a malformed line is a problem, never a crash.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from covguard.builder.toolchains.base import Toolchain
from covguard.files import display_path
from covguard.model import ExecutableRun, TestCase
from covguard.run.options import RunOptions
from covguard.run.selection import selected_names

MAX_RECORD = 32 * 1024 * 1024
MAX_SCAN = 512 * 1024 * 1024
_STATUS = {"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}


def framework_of(exe: Path) -> str | None:
    """The framework whose covguard hook is linked into ``exe`` (its marker string), if any."""
    try:
        with exe.open("rb") as handle:
            tail = b""
            read = 0
            while read < MAX_SCAN:
                chunk = handle.read(1 << 20)
                if not chunk:
                    return None
                read += len(chunk)
                m = MARKER.search(tail + chunk)
                if m:
                    return m.group(1).decode()
                tail = chunk[-64:]
    except OSError:
        return None
    return None


@dataclass
class Listed:
    name: str
    file: str
    line: int
    disabled: bool = False


@dataclass
class Record:
    """One test case as the hook recorded it."""

    index: int
    name: str
    file: str
    line: int
    status: str | None = None  # PASS | FAIL | SKIP | DONE; None: began but never ended
    micros: int | None = None
    failures: list[str] = field(default_factory=list)


@dataclass
class RecordFile:
    listed: list[Listed] = field(default_factory=list)
    cases: list[Record] = field(default_factory=list)
    done: bool = False
    problems: list[str] = field(default_factory=list)


def _unescape(text: str) -> str:
    return re.sub(r"\\([tn\\])", lambda m: {"t": "\t", "n": "\n", "\\": "\\"}[m.group(1)], text)


def parse_record(path: Path) -> RecordFile | None:
    """The record file the hook wrote, or None when there is none."""
    if not path.is_file():
        return None
    out = RecordFile()
    with path.open("rb") as handle:
        data = handle.read(MAX_RECORD + 1)
    if len(data) > MAX_RECORD:
        out.problems.append(
            f"{path.name}: the test record is larger than {MAX_RECORD} bytes; the rest is ignored"
        )
        data = data[:MAX_RECORD]
    by_index: dict[int, Record] = {}
    for lineno, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        f = raw.split("\t")
        try:
            if f[0] in ("test", "disabled"):
                out.listed.append(Listed(_unescape(f[1]), _unescape(f[2]), int(f[3]), f[0] == "disabled"))
            elif f[0] == "begin":
                rec = Record(int(f[1]), _unescape(f[2]), _unescape(f[3]), int(f[4]))
                by_index[rec.index] = rec
                out.cases.append(rec)
            elif f[0] == "fail":
                where = f"{_unescape(f[2])}:{int(f[3])}: " if f[2] else ""
                by_index[int(f[1])].failures.append(where + _unescape("\t".join(f[4:])))
            elif f[0] == "end":
                rec = by_index[int(f[1])]
                rec.status = f[2] if f[2] in ("PASS", "FAIL", "SKIP", "DONE") else "FAIL"
                rec.micros = int(f[3])
            elif f[0] == "done":
                out.done = True
            elif f[0] != "start":
                raise ValueError(f[0])
        except (IndexError, ValueError, KeyError):
            out.problems.append(f"{path.name} line {lineno}: malformed test record line {raw[:200]!r}")
    return out


# ---- the frameworks' own output (statuses and messages the hook cannot see) --------------------

_CPPUTEST_FAILURE = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+): error: Failure in TEST\((?P<group>[^,]+), (?P<name>[^)]+)\)"
)
_CMOCKA = re.compile(r"^\[ *(?P<kind>OK|FAILED|SKIPPED|ERROR|LINE|RUN) *\] (?P<rest>.*)$")


def cpputest_failures(text: str) -> dict[str, str]:
    """``Group.Name`` -> failure message (location and the indented lines after it)."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _CPPUTEST_FAILURE.match(line)
        if not m:
            continue
        body = []
        for more in lines[i + 1 : i + 40]:
            if not more.startswith("\t"):
                break
            body.append(more.strip())
        key = f"{m['group']}.{m['name']}"
        text_ = f"{m['file']}:{m['line']}: " + "; ".join(body)
        out[key] = (out[key] + "\n" + text_) if key in out else text_
    return out


def cmocka_results(text: str, errors: str = "") -> dict[str, tuple[str, str]]:
    """cmocka's standard output: test name -> (status, message).  cmocka prints the results on
    stdout and each failure's ``[ ERROR ]``/``[ LINE ]`` lines on stderr: the n-th failure block
    (ending at its LINE) belongs to the n-th failed test."""
    out: dict[str, tuple[str, str]] = {}
    blocks: list[str] = []
    current: list[str] = []
    for raw in errors.splitlines():
        m = _CMOCKA.match(raw.strip())
        if m and m["kind"] in ("ERROR", "LINE"):
            current.append(m["rest"].strip().removeprefix("--- ").strip())
            if m["kind"] == "LINE":
                blocks.append("; ".join(current))
                current = []
    failed = 0
    for raw in (text + "\n" + errors).splitlines():
        m = _CMOCKA.match(raw.strip())
        if not m or " " in m["rest"].strip() or m["rest"].strip()[:1].isdigit():
            continue
        kind, name = m["kind"], m["rest"].strip()
        if kind == "OK":
            out[name] = ("passed", "")
        elif kind == "FAILED":
            out[name] = ("failed", blocks[failed] if failed < len(blocks) else "")
            failed += 1
        elif kind == "SKIPPED":
            out[name] = ("skipped", "")
    return out


_C_TEST = r"^[ \t]*(?:static[ \t]+)?void[ \t\n]+({names})[ \t\n]*\([ \t\n]*void[ \t\n]*\*[ \t\n]*\*"


def c_test_definitions(options: RunOptions, names: list[str]) -> dict[str, tuple[str, int]]:
    """Where cmocka's test functions are defined: ``name -> (file, line)``, found by name in the
    test sources (``test_sources``); a name defined in more than one file stays unplaced."""
    from covguard.files import glob_matcher

    wanted = sorted({n for n in names if re.fullmatch(r"[A-Za-z_]\w*", n)})
    if not wanted:
        return {}
    pattern = re.compile(_C_TEST.format(names="|".join(wanted)), re.M)
    match = glob_matcher(options.test_sources)
    found: dict[str, list[tuple[str, int]]] = {}
    for item in sorted(options.root.rglob("*.c"))[:5000]:
        rel = display_path(item, options.root)
        if (
            rel.startswith((".", "/"))
            or not match(rel)
            or not item.is_file()
            or item.stat().st_size > 4_000_000
        ):
            continue
        text = item.read_bytes().decode("utf-8", errors="replace")
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start(1)) + 1
            found.setdefault(m.group(1), []).append((rel, line))
    return {name: places[0] for name, places in found.items() if len(places) == 1}


# ---- running ----------------------------------------------------------------------------------


@dataclass
class _Attempt:
    first: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def run_framework_executable(
    options: RunOptions,
    toolchain: Toolchain,
    exe: Path,
    label: str,
    run_dir: Path,
    env_base: dict[str, str],
    framework: str,
) -> tuple[ExecutableRun, list[TestCase], dict[str, str]] | None:
    """Run one GoogleTest/CppUTest/cmocka executable to the end, resuming after a crash or hang;
    None when its hook recorded nothing on the first run (the runner then handles it as any)."""
    from covguard.run.process import (
        _describe_exit,
        _profiling_errors,
        _run_once,
        _source_path,
        fresh_folders,
    )

    exe_dir, cov_dir = fresh_folders(run_dir, label)
    timeout = float(options.test_timeout)
    rel_exe = display_path(exe, options.root)
    suffix = ".profraw" if toolchain.coverage == "llvm" else ""
    stdbuf = shutil.which("stdbuf") if toolchain.origin == "host" else None
    fw = FRAMEWORKS[framework]
    only = selected_names(env_base)  # covguard test --select: the selected cases only
    queue = fw.start(only)
    listed: list[Listed] = []
    cases: list[TestCase] = []
    units: dict[str, str] = {}
    crashed: list[str] = []
    problems: list[str] = []
    total, last_rc, any_timeout, attempt = 0.0, None, False, 0

    def case(
        rec: Record | Listed, status: str, message: str, coverage: str, unit: str, us: int | None
    ) -> TestCase:
        return TestCase(
            test=f"{label}::{rec.name}",
            executable=rel_exe,
            name=rec.name,
            status=status,
            duration_s=us / 1e6 if us is not None else None,
            message=message,
            file=_source_path(rec.file, options) if rec.file else "",
            line=rec.line,
            verifies=(),
            coverage_unit=unit,
            coverage=coverage,
        )

    while queue:
        step = queue.pop(0)
        record_path = exe_dir / f"record.{attempt}.tsv"
        env = dict(env_base)
        env.update(
            {
                "COVGUARD_RECORD": str(record_path),
                "COVGUARD_COVERAGE_DIR": str(cov_dir),
                "COVGUARD_FIRST_TEST": str(step.first),
                "COVGUARD_LIST": "1" if attempt == 0 else "0",
                "GCOV_PREFIX": str(cov_dir / "all"),
                "GCOV_PREFIX_STRIP": "0",
                "LLVM_PROFILE_FILE": str(cov_dir / "all.profraw"),
                **step.env,
            }
        )
        command = [*toolchain.run_command(exe, env), *step.args]
        if stdbuf:
            command = [stdbuf, "-oL", "-eL", *command]
        stdout, stderr = exe_dir / f"stdout.{attempt}.txt", exe_dir / f"stderr.{attempt}.txt"
        rc, timed_out, took = _run_once(command, env, exe.parent, stdout, stderr, timeout)
        attempt += 1
        total += took
        last_rc = rc
        any_timeout |= timed_out
        text = stdout.read_bytes()[:MAX_RECORD].decode("utf-8", errors="replace")
        problems += _profiling_errors(stderr.read_bytes()[:MAX_RECORD].decode("utf-8", errors="replace"))
        problems += toolchain.after_run(cov_dir)
        record = parse_record(record_path)
        ended = not timed_out and rc is not None and rc >= 0 and toolchain.exit_reason(rc) is None
        why = (None if timed_out else toolchain.exit_reason(rc)) or _describe_exit(rc, timed_out, timeout)
        if record is None and attempt == 1:
            return None  # the hook never ran (no RUN_ALL_TESTS, ...): the runner's own handling
        if record is None:
            crashed.append(
                f"the {fw.title} executable wrote no test record "
                f"({why if not ended else f'exited with status {rc}'})"
            )
            cases.append(
                TestCase(
                    test=f"{label}::<no results>", executable=rel_exe, name="<no results>", status="error",
                    duration_s=took, message=f"covguard's {fw.title} hook recorded no test "
                    f"(see {display_path(stdout, options.root)})", file=rel_exe, line=0, verifies=(),
                    coverage_unit="", coverage="none",
                )
            )  # fmt: skip
            break
        problems += record.problems
        if step.first == 0 and attempt == 1:
            listed = [t for t in record.listed if only is None or t.name in only]
            for item in listed:
                if item.disabled:
                    cases.append(case(item, "skipped", f"disabled in {fw.title}", "none", "", None))
        errors = stderr.read_bytes()[:MAX_RECORD].decode("utf-8", errors="replace")
        judge = fw.judge(text, errors)
        unfinished: Record | None = None
        for rec in record.cases:
            unit = f"{label}::{rec.name}"
            if rec.status is None:
                unfinished = rec
                crashed.append(f"test '{rec.name}' {why}")
                cases.append(case(rec, "error", why, "incomplete", unit, None))
                units[unit] = str(cov_dir / f"{rec.index}{suffix}")
                break
            status, message = judge(rec, _STATUS.get(rec.status, "failed"), "\n".join(rec.failures))
            # a failure's place relative to the project, as covguard shows paths
            message = re.sub(rf"(?m)^{re.escape(str(options.root))}/", "", message)
            cases.append(case(rec, status, message, "complete", unit, rec.micros))
            units[unit] = str(cov_dir / f"{rec.index}{suffix}")
        if unfinished is None:
            if not ended:
                crashed.append(f"{why} outside any test (after {len(record.cases)} tests)")
            continue
        if step.args:  # a CppUTest one-test run: the queue holds the others
            continue
        # the listed cases not run yet (by name: a shuffled order still resumes right), with
        # indices after every one used so far (each case's coverage folder is its own)
        seen = {c.name for c in cases}
        remaining = [t for t in listed if not t.disabled and t.name not in seen]
        after = max(r.index for r in record.cases) + 1
        if not remaining:
            continue
        attempts, first = fw.resume(after, remaining, unfinished)
        if first:
            queue[0:0] = attempts
        else:
            queue.extend(attempts)
    # cases listed but never run: the executable ended outside any test before them
    seen = {c.name for c in cases}
    lost = crashed[-1] if crashed else "the executable ended before them"
    for item in listed:
        if not item.disabled and item.name not in seen:
            cases.append(case(item, "error", f"did not run: {lost}", "none", "", None))
    if fw.find_definitions:  # cmocka knows no file or line of a test: its definition, by name
        places = c_test_definitions(options, [c.name for c in cases if not c.file])
        cases = [
            replace(c, file=places[c.name][0], line=places[c.name][1])
            if not c.file and c.name in places
            else c
            for c in cases
        ]
    run = ExecutableRun(
        executable=rel_exe,
        label=label,
        returncode=last_rc,
        timed_out=any_timeout,
        crashed="; ".join(crashed) if crashed else None,
        duration_s=round(total, 3),
        stdout_path=str(exe_dir),
        stderr_path=str(exe_dir),
        coverage_dir=str(cov_dir),
        format=framework,
        problems=tuple(problems),
    )
    return run, cases, units


# ---- the registry: what is particular to each framework ----------------------------------------

Judge = Callable[[Record, str, str], tuple[str, str]]
"""A case's (status, message) from the record's status and failure text, and the output."""


def _as_recorded(text: str, errors: str) -> Judge:
    return lambda rec, status, message: (status, message)


def _cpputest_judge(text: str, errors: str) -> Judge:
    failures = cpputest_failures(text)  # CppUTest prints a failure's message, the plugin cannot see it
    return lambda rec, status, message: (
        status,
        failures.get(rec.name, message) if status == "failed" else message,
    )


def _cmocka_judge(text: str, errors: str) -> Judge:
    outcomes = cmocka_results(text, errors)  # cmocka's statuses and messages are in its output
    return lambda rec, status, message: outcomes.get(
        rec.name, ("error", "cmocka printed no result for this test")
    )


def _whole_start(names: set[str] | None) -> list[_Attempt]:
    """One run of every case (a selection's other cases are dropped afterwards)."""
    return [_Attempt(0)]


def _gtest_start(names: set[str] | None) -> list[_Attempt]:
    """Under a selection, GoogleTest's filter naming the cases."""
    if names is None:
        return [_Attempt(0)]
    return [_Attempt(0, env={"GTEST_FILTER": ":".join(sorted(names)) or "-*"})]


def _cpputest_start(names: set[str] | None) -> list[_Attempt]:
    """Under a selection, one run per case (``-sg GROUP -sn NAME``), as covguard resumes."""
    if names is None:
        return [_Attempt(0)]
    runs = []
    for k, name in enumerate(sorted(names)):
        group, _, test = name.partition(".")
        runs.append(_Attempt(k, args=["-sg", group, "-sn", test]))
    return runs or [_Attempt(0, args=["-sg", "", "-sn", ""])]


Resume = Callable[[int, list[Listed], Record], tuple[list[_Attempt], bool]]
"""After a crash or hang in ``unfinished``: the runs for the ``remaining`` listed cases, numbered
from ``after``, and whether they come before the runs already queued."""


def _gtest_resume(after: int, remaining: list[Listed], unfinished: Record) -> tuple[list[_Attempt], bool]:
    return [_Attempt(after, env={"GTEST_FILTER": ":".join(t.name for t in remaining)})], True


def _cpputest_resume(after: int, remaining: list[Listed], unfinished: Record) -> tuple[list[_Attempt], bool]:
    runs = []
    for k, item in enumerate(remaining):
        group, _, name = item.name.partition(".")
        runs.append(_Attempt(after + k, args=["-sg", group, "-sn", name]))
    return runs, False


def _cmocka_resume(after: int, remaining: list[Listed], unfinished: Record) -> tuple[list[_Attempt], bool]:
    # cmocka's hook counts every case of the executable in order: resume by position
    return [_Attempt(unfinished.index + 1)], True


@dataclass(frozen=True)
class Framework:
    """A test framework covguard runs case by case through its hook (``runtime/frameworks``)."""

    name: str  # the hook's marker (@@covguard-framework:NAME@@) and the run's format
    title: str  # as people write it
    start: Callable[[set[str] | None], list[_Attempt]]  # the first runs (names: a selection)
    judge: Callable[[str, str], Judge]  # from its standard output and error
    resume: Resume
    find_definitions: bool = False  # its record has no file and line: find the test functions


FRAMEWORKS: dict[str, Framework] = {
    "gtest": Framework("gtest", "GoogleTest", _gtest_start, _as_recorded, _gtest_resume),
    "cpputest": Framework("cpputest", "CppUTest", _cpputest_start, _cpputest_judge, _cpputest_resume),
    "cmocka": Framework(
        "cmocka", "cmocka", _whole_start, _cmocka_judge, _cmocka_resume, find_definitions=True
    ),
}
"""The registry of test frameworks with a covguard hook, by the name their hook marks."""

MARKER = re.compile(rb"@@covguard-framework:(" + b"|".join(n.encode() for n in FRAMEWORKS) + rb")@@")
NAMES = {name: fw.title for name, fw in FRAMEWORKS.items()}
