"""What the ingest stage reads of the configuration: :class:`IngestOptions`, built from the settings
by :func:`covguard.options.ingest_options` (field names are the settings' attribute names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from covguard.run.options import RunOptions


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """The values reading a test run's per-test coverage reads; ``run`` is what it hands to the run
    stage (results), and ``run.build`` to the build stage (manifest, work area, toolchain)."""

    run: RunOptions
    root: Path
    sources: tuple[str, ...]
    exclude: tuple[str, ...]
    test_jobs: int
