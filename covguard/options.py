"""The one place where the stages' options objects are built from :class:`~covguard.config.Settings`.

Each stage takes a small frozen object with only the values it reads (field names are the
settings' attribute names), never the whole settings: :class:`~covguard.builder.options.BuildOptions`
(build stage, :mod:`covguard.builder`), :class:`~covguard.run.options.RunOptions` (run stage,
:mod:`covguard.run`), :class:`~covguard.ingest.options.IngestOptions` (the ingest stage's entry,
:mod:`covguard.ingest.run_coverage`), :class:`~covguard.report.options.ReportOptions` (the
outputs, :mod:`covguard.report.outputs`), and :class:`~covguard.analysis.options.AnalysisOptions`
and :class:`~covguard.analysis.options.GateOptions` (the analysis and the gate,
:mod:`covguard.analysis`).  :mod:`covguard.api` builds them and passes them in; a stage that calls
another hands it that stage's options (``RunOptions.build``, ``IngestOptions.run``,
``AnalysisOptions.build``).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from covguard.analysis.options import AnalysisOptions, GateOptions
from covguard.builder.options import BuildOptions
from covguard.config import Settings
from covguard.ingest.options import IngestOptions
from covguard.limits import Limits
from covguard.report.options import ReportOptions
from covguard.requirements.settings import options_from
from covguard.run.options import RunOptions


def _picked(cls: Any, settings: Settings, **given: Any) -> dict[str, Any]:
    """The values of ``cls``'s fields: ``given`` ones, else the setting of the same name."""
    return {f.name: given[f.name] if f.name in given else getattr(settings, f.name) for f in fields(cls)}


def build_options(settings: Settings) -> BuildOptions:
    """What the build stage reads."""
    return BuildOptions(**_picked(BuildOptions, settings))


def run_options(settings: Settings) -> RunOptions:
    """What the run stage reads (with the build stage's options, for the work area and toolchain)."""
    given = {
        "build": build_options(settings),
        "limits": Limits.from_settings(settings),
        "test_select": settings.values.get("test_select"),
    }
    return RunOptions(**_picked(RunOptions, settings, **given))


def ingest_options(settings: Settings) -> IngestOptions:
    """What the ingest stage reads (with the run stage's options, for the results, and through them
    the build stage's, for the manifest, work area and toolchain)."""
    return IngestOptions(**_picked(IngestOptions, settings, run=run_options(settings)))


def report_options(settings: Settings) -> ReportOptions:
    """What the report stage reads (with the build stage's options, for the work area)."""
    return ReportOptions(**_picked(ReportOptions, settings, build=build_options(settings)))


def analysis_options(settings: Settings) -> AnalysisOptions:
    """What the analysis stage reads (with the build stage's options, for the product build)."""
    given = {
        "build": build_options(settings),
        "requirement_options": options_from(settings.values),
        "recorded": settings.as_dict(),
    }
    return AnalysisOptions(**_picked(AnalysisOptions, settings, **given))


def gate_options(settings: Settings) -> GateOptions:
    """What the gate reads."""
    return GateOptions(**_picked(GateOptions, settings))


def run_settings(settings: Settings) -> list[Settings]:
    """The settings of every run analysed together (``analysis.runs``; else the toolchain's)."""
    names = tuple(settings.analysis_runs) or (settings.toolchain,)
    return [settings if n == settings.toolchain else settings.with_overrides(toolchain=n) for n in names]


__all__ = [
    "analysis_options",
    "build_options",
    "gate_options",
    "ingest_options",
    "report_options",
    "run_options",
    "run_settings",
]
