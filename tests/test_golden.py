"""Golden-file tests of findings.json: one small C project per classification, compiled and run
with the real gcc.  Refresh the references with ``pytest --update-references`` (or
COVGUARD_UPDATE_REFERENCES=1); on a mismatch the actual output is written beside the reference.
On each fixture, covguard's per-file totals are also checked against gcovr's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.builder.area import load_manifest
from covguard.config import load_settings
from covguard.options import build_options, run_options
from covguard.report.gcovr_formats import merged_tree
from covguard.run.runner import load_results
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
    require("gcc", "make", "gcov")
    outcome = run_fixture(name, tmp_path)
    doc = scrub(json.loads(outcome.outputs["findings"].read_text(encoding="utf-8")))
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    compare_golden(text, GOLDEN / name / "findings.golden.json")
    assert_totals_equal_gcovr(outcome, tmp_path / name, tmp_path / "merged")


def assert_totals_equal_gcovr(outcome: api.Outcome, project: Path, merged: Path) -> None:
    """covguard's per-file line, branch and function totals over the whole run (every test's
    coverage summed) equal gcovr's over the same data, summed into one tree of .gcda files.  gcovr's
    exclusion markers are switched off (an unused prefix): the totals compared are the raw ones,
    before covguard's and gcovr's exclusions."""
    assert outcome.analysis is not None
    settings = load_settings(project / "covguard.toml")
    merged_tree(load_manifest(build_options(settings)), load_results(run_options(settings)).units, merged)
    summary = merged / "gcovr.json"
    subprocess.run(
        [sys.executable, "-m", "gcovr", "--root", project, "--filter", str(project / "src"),
         "--exclude-pattern-prefix", "NO_SUCH_MARKER",
         "--json-summary", summary, merged],
        check=True, capture_output=True,
    )  # fmt: skip
    theirs = {f["filename"]: f for f in json.loads(summary.read_text())["files"]}
    ours = outcome.analysis.coverage.file_totals()
    ours = ours[ours.index.str.startswith("src/")]
    assert len(ours)
    assert set(theirs) == set(ours.index)
    for file, row in ours.iterrows():
        g = theirs[str(file)]
        assert (row["lines"], row["lines_covered"]) == (g["line_total"], g["line_covered"]), file
        assert (row["branches"], row["branches_covered"]) == (g["branch_total"], g["branch_covered"]), file
        assert (row["functions"], row["functions_covered"]) == (g["function_total"], g["function_covered"]), (
            file
        )
