"""Plain records shared across covguard (frozen dataclasses; this module imports nothing of covguard)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TestCase:
    """The result of one test case, as parsed from a test executable's output."""

    __test__ = False  # not a pytest class

    test: str  # unique id: "<executable label>::<name>"
    executable: str  # path relative to the project root
    name: str
    status: str  # passed | failed | skipped | error
    duration_s: float | None
    message: str
    file: str
    line: int
    verifies: tuple[str, ...]
    coverage_unit: str  # where its coverage is: a test id, or "<executable>::*"
    coverage: str  # complete | incomplete | missing | none
    origin: str = "host"
    variant: str = "default"


@dataclass(frozen=True)
class ExecutableRun:
    """One run of one test executable (possibly resumed after a crash)."""

    executable: str
    label: str
    returncode: int | None
    timed_out: bool
    crashed: str | None  # description of a crash/hang, None when the run ended normally
    duration_s: float
    stdout_path: str
    stderr_path: str
    coverage_dir: str
    format: str  # covguard | unity | gtest | cpputest | cmocka | unknown
    problems: tuple[str, ...] = ()
    # the run's nonce: its protocol lines carry it (re-deriving results from the raw output needs it)
    nonce: str = ""


@dataclass(frozen=True)
class CompileCommand:
    """One compiler invocation recorded by the build wrapper (compile_commands.json entry)."""

    directory: str
    arguments: tuple[str, ...]
    file: str
    output: str | None


@dataclass(frozen=True)
class BuildManifest:
    """What `covguard build` produced and how: the provenance of every later number."""

    toolchain: str
    command: tuple[str, ...]
    build_dir: str
    started: str  # ISO 8601 UTC
    duration_s: float
    compilers: dict[str, str]  # tool -> version line
    notes_files: tuple[str, ...]  # .gcno paths (absolute)
    source_hashes: dict[str, str]  # absolute source path -> sha256 at build time
    compile_commands: int
    variant: str = "default"
    extra: dict[str, str] = field(default_factory=dict)


def percent(num: float, den: float) -> float | None:
    """A coverage percentage as gcovr computes it, rounded once: to one decimal from the ratio
    (44/208 is 21.2), never 100.0 unless all is covered (99.96 % shows 99.9).  ``None`` for 0/0."""
    if not den:
        return None
    if num >= den:
        return 100.0
    return min(99.9, round(100.0 * num / den, 1))
