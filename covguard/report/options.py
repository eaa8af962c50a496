"""What the report stage reads of the configuration: :class:`ReportOptions`, built from the settings
by :func:`covguard.options.report_options` (field names are the settings' attribute names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from covguard.builder.options import BuildOptions


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """The values writing the outputs reads (covguard's own and gcovr's); ``build`` is what it hands
    to the build stage's work area (gcovr's merged data)."""

    build: BuildOptions
    root: Path
    config_path: Path | None
    output_dir: Path
    sources: tuple[str, ...]
    exclude: tuple[str, ...]
    tags_exclusion_prefix: str
    build_jobs: int
    report_gcovr: tuple[str, ...]
    gcovr_args: tuple[str, ...]
