"""What the analysis stage reads of the configuration: :class:`AnalysisOptions` (the analysis and
reachability) and :class:`GateOptions` (the gate, its baseline and diff checks), built from the
settings by :func:`covguard.options.analysis_options` and :func:`covguard.options.gate_options`
(field names are the settings' attribute names)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from covguard.builder.options import BuildOptions
from covguard.requirements.ids import RequirementOptions


@dataclass(frozen=True, slots=True)
class AnalysisOptions:
    """The values the analysis reads: the requirement files and their readers' options, the tag
    syntax, where test code is, the ledger, the product build's entry points (``build`` is what it
    hands to the build stage for the product build) and ``recorded``, the whole configuration as
    plain data, which the analysis records for findings.json and the evidence package."""

    build: BuildOptions
    root: Path
    work_dir: Path
    requirements: tuple[str, ...]
    requirement_options: RequirementOptions
    sources: tuple[str, ...]
    exclude: tuple[str, ...]
    test_sources: tuple[str, ...]
    tags_id_pattern: str
    tags_oft: bool
    tags_exclusion_prefix: str
    default_safety_class: str
    gate_require_target: tuple[str, ...]
    justify_ledger: str
    reachability_entry_points: tuple[str, ...]
    reachability_extra_entry_points: tuple[str, ...]
    recorded: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GateOptions:
    """The values the gate reads: thresholds per safety class, limits per finding kind, and the
    baseline and diff checks (``gate_baseline``/``gate_diff_base`` empty or ``None``: not asked)."""

    root: Path
    gate_line: dict[str, float]
    gate_branch: dict[str, float]
    gate_mcdc: dict[str, float]
    gate_max_findings: dict[str, int]
    gate_require_target: tuple[str, ...]
    gate_baseline: str | None
    gate_baseline_ref: str
    gate_baseline_mode: str
    gate_diff_base: str
