"""What the run stage reads of the configuration: :class:`RunOptions`, built from the settings by
:func:`covguard.options.run_options` (field names are the settings' attribute names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covguard.builder.options import BuildOptions
from covguard.limits import Limits


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The values the test runs (executables, invocations, CTest, runners, the Python suite) and the
    shard merge read; ``build`` is what they hand to the build stage's work area and toolchains."""

    build: BuildOptions
    limits: Limits
    root: Path
    work_dir: Path
    config_path: Path | None
    variant: str
    exclude: tuple[str, ...]
    test_sources: tuple[str, ...]
    test_executables: tuple[str, ...]
    test_env: dict[str, str]
    test_jobs: int
    test_timeout: float
    test_format: str
    test_shard: str
    test_select: str | None
    test_invocations: tuple[dict[str, Any], ...]
    test_ctest: str
    test_ctest_args: tuple[str, ...]
    test_runners: tuple[dict[str, Any], ...]
    tags_id_pattern: str
    python_python: str
    python_args: tuple[str, ...]
    python_timeout: float
    python_sources: tuple[str, ...]
    python_tests: tuple[str, ...]
