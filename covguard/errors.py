"""Errors and exit codes, in one place.

Every failure covguard reports is a :class:`CovguardError`: a message that says what went wrong,
where (file and line when there is one) and what to do about it.  The command line prints it
without a traceback and exits with the error's code:

====  =======================================================================
code  meaning
====  =======================================================================
0     everything ran and the policy passed
1     the policy (gate) failed: findings or coverage below the thresholds
2     bad usage, configuration or input (a requirement file, a source, a tag)
3     build or test infrastructure failure (compiler, crashed test, bad .gcda)
====  =======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3


@dataclass(frozen=True)
class Location:
    """Where a problem is: a file and, when known, a 1-based line."""

    path: Path | str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else str(self.path)


class CovguardError(Exception):
    """Base of every error covguard reports to its user.

    ``message`` says what is wrong, ``hint`` what to do, ``location`` where.
    """

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        path: Path | str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = Location(path, line) if path is not None else None

    def render(self) -> str:
        """The text shown to the user: ``file:line: message`` and the hint on its own line."""
        head = f"{self.location}: {self.message}" if self.location else self.message
        return f"{head}\n  hint: {self.hint}" if self.hint else head

    def __str__(self) -> str:
        return self.render()


class ConfigError(CovguardError):
    """The configuration is missing, malformed or names something that does not exist."""


class InputError(CovguardError):
    """An input file (requirements, source, test output) cannot be used as it is."""


class BuildError(CovguardError):
    """The firmware's build failed or produced nothing covguard can use."""

    exit_code = EXIT_INFRASTRUCTURE


class CoverageDataError(CovguardError):
    """Coverage data is missing, truncated, stale or from another build."""

    exit_code = EXIT_INFRASTRUCTURE


class TestRunError(CovguardError):
    """Running the tests failed in a way that makes their results or coverage incomplete."""

    exit_code = EXIT_INFRASTRUCTURE
    __test__ = False  # not a pytest test class


class ToolError(CovguardError):
    """An external tool (gcov, gcovr, a compiler, QEMU) is missing or unusable."""

    exit_code = EXIT_INFRASTRUCTURE


class LockedError(CovguardError):
    """Another covguard process is using the same work folder."""

    exit_code = EXIT_INFRASTRUCTURE


class OutputError(CovguardError):
    """An output file could not be written."""

    exit_code = EXIT_INFRASTRUCTURE
