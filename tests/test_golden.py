"""Golden-file tests of findings.json: one small C project per classification, compiled and run
with the real gcc.  Refresh the references with ``pytest --update-references`` (or
COVGUARD_UPDATE_REFERENCES=1); on a mismatch the actual output is written beside the reference."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.config import load_settings
from tests.conftest import FIXTURES, require, update_references

GOLDEN = FIXTURES / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "covguard.toml").is_file())


def scrub(doc: dict[str, Any]) -> dict[str, Any]:
    """Remove what varies from run to run (durations)."""
    for t in doc["tests"]:
        t["duration_s"] = None
    return doc


def compare_golden(actual_text: str, reference: Path) -> None:
    actual_file = reference.with_name(reference.name.replace(".golden.", ".actual."))
    if update_references():
        reference.write_text(actual_text, encoding="utf-8")
        actual_file.unlink(missing_ok=True)
        return
    expected = reference.read_text(encoding="utf-8") if reference.exists() else ""
    if actual_text != expected:
        actual_file.write_text(actual_text, encoding="utf-8")
        pytest.fail(f"{reference.name} differs; actual output in {actual_file} (pytest --update-references)")
    actual_file.unlink(missing_ok=True)


def run_fixture(name: str, tmp_path: Path) -> api.Outcome:
    project = tmp_path / name
    shutil.copytree(GOLDEN / name, project, ignore=shutil.ignore_patterns("*.golden.*", "*.actual.*"))
    shutil.copy(GOLDEN / "common.mk", tmp_path / "common.mk")
    settings = load_settings(project / "covguard.toml")
    return api.run(settings)


@pytest.mark.parametrize("name", CASES)
def test_findings_golden(name: str, tmp_path: Path) -> None:
    require("gcc", "make")
    outcome = run_fixture(name, tmp_path)
    doc = scrub(json.loads(outcome.outputs["findings"].read_text(encoding="utf-8")))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    compare_golden(text, GOLDEN / name / "findings.golden.json")
