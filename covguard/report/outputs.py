"""Writes every output of a run into the output folder, each one atomically."""

from __future__ import annotations

from pathlib import Path

from covguard.analysis.analyse import Analysis
from covguard.analysis.gate import GateResult
from covguard.config import Settings
from covguard.files import write_text
from covguard.report import findings_json


def write_outputs(settings: Settings, analysis: Analysis, gate: GateResult) -> dict[str, Path]:
    out = settings.output_dir
    written: dict[str, Path] = {}
    path = out / "findings.json"
    write_text(path, findings_json.render(analysis, gate))
    written["findings"] = path
    return written
