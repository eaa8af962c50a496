"""`covguard test --select FILE`: only the selected test cases run, with their own coverage, and the
run says it is partial (results.json's ``selection``, a ``selected_run`` finding).

Truth is derived independently: for the harness project of tests/test_change_control.py, by reading
its sources (which test calls what); for Unity, each selected case built alone with plain
``gcc --coverage`` and run alone (tests/test_unity.py's helper); for GoogleTest and CppUTest, each
selected case run alone through the framework's own selection in a plain build
(tests/test_frameworks.py's helpers)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.config import load_settings
from tests.conftest import covguard, require
from tests.test_change_control import _run, _two_executables


def _findings(project: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((project / "covguard-report" / "findings.json").read_text())
    return doc


@pytest.mark.slow
def test_selected_harness_cases_only_and_the_run_says_it_is_partial(tmp_path: Path) -> None:
    project = _two_executables(tmp_path)
    # test_sensor.c: halves (read_sensor 10 -> 5), averages (sensor_average); test_other.c: reads
    # (read_sensor 4 -> 2).  Selected: averages and reads, and an id no test has.
    (project / "test.select").write_text("# picked by hand\ntest_sensor::averages\ntest_other::reads\n"
                                         "test_sensor::gone\n")  # fmt: skip
    _code, doc = _run(project, "--select", "test.select")
    assert {t["id"]: t["status"] for t in doc["tests"]} == {
        "test_sensor::averages": "passed",
        "test_other::reads": "passed",
    }  # 'halves' did not run: not in the results (neither passed nor skipped)
    results = json.loads(next((project / ".covguard").rglob("results.json")).read_text())
    assert results["selection"] == {"file": "test.select", "tests": 3, "missing": ["test_sensor::gone"]}
    partial = [f for f in doc["findings"] if f["kind"] == "selected_run"]
    assert len(partial) == 1
    assert partial[0]["severity"] == "warning"
    assert "partial run" in partial[0]["message"]
    assert "test_sensor::gone" in partial[0]["message"]
    # the harness never started 'halves': its begin line is not in the log
    logs = "".join(p.read_text() for p in (project / ".covguard").rglob("test_sensor/stdout.*.txt"))
    assert "\taverages\t" in logs
    assert "\thalves\t" not in logs
    # read_sensor's line 8 ran in 'reads' only (in a full run: 'halves' too)
    who = json.loads(covguard("who-covers", "src/sensor.c:8", "--json", cwd=project).stdout)
    assert [(t["test"], t["count"]) for t in who["tests"]] == [("test_other::reads", 1)]
    # a selected run is no map for covguard affected
    refused = covguard("affected", "--base", "HEAD", cwd=project)
    assert refused.returncode == 2
    assert "a run of selected tests only (test.select)" in refused.stderr
    gate = covguard("gate", cwd=project)
    assert gate.stdout.startswith("gate: PARTIAL RUN: only the tests selected by test.select ran")

    # a full run afterwards: no selection, no selected_run finding, 'halves' back
    _code, full = _run(project)
    assert "test_sensor::halves" in {t["id"] for t in full["tests"]}
    assert not [f for f in full["findings"] if f["kind"] == "selected_run"]
    results = json.loads(next((project / ".covguard").rglob("results.json")).read_text())
    assert results["selection"] is None


UNITY_SELECTED = [
    "test_thermo::test_fahrenheit_through_helper",  # hand-written runner (RUN_TEST in main)
    "test_limits::test_limits_clamp_case(-50, -40)",  # generated runner, parametrised
]


@pytest.mark.slow
def test_unity_hooks_run_only_the_selected_cases(tmp_path: Path) -> None:
    from tests.test_unity import UNITY, _executed, _truth

    require("gcc", "make", "gcov")
    project = tmp_path / "project"
    shutil.copytree(UNITY, project)
    (project / "test.select").write_text("\n".join(UNITY_SELECTED) + "\n")
    settings = load_settings(project / "covguard.toml", overrides={"test.select": "test.select"})
    outcome = api.run(settings)
    assert {c.test: c.status for c in outcome.results.cases} == dict.fromkeys(UNITY_SELECTED, "passed")
    assert outcome.analysis is not None
    lines = outcome.analysis.coverage.lines
    for test in UNITY_SELECTED:
        unit = next(c.coverage_unit for c in outcome.results.cases if c.test == test)
        mine = lines[(lines["test"].astype(str) == unit) & (lines["count"] > 0)]
        got = set(zip(mine["file"].astype(str), mine["line"].astype(int), strict=True))
        assert got == _executed(_truth(project, test, tmp_path / "truth")), test
    # not started: the hand-written runner skipped the others, the generated one ignored them
    logs = {
        exe: "".join(p.read_text() for p in (settings.work_dir).rglob(f"logs/{exe}/stdout.*.txt"))
        for exe in ("test_thermo", "test_limits")
    }
    assert ":test_clamp_low:PASS" not in logs["test_thermo"]
    assert ":test_limits_average:IGNORE: covguard: not selected" in logs["test_limits"]


FRAMEWORK_SELECTED = [
    "test_dose_gtest::Limiter.FloorThroughHelper",
    "test_dose_gtest::Small/Clamp.NeverAbove/1",
    "test_dose_cpputest::Limiter.ClampsAboveMaximum",
    "test_dose_cpputest::Rounding.NegativeRoundsAway",
    "test_rate_cmocka::limits_through_helper",  # cmocka: runs whole, the others are dropped
]


@pytest.mark.slow
def test_googletest_and_cpputest_run_only_the_selected_cases(tmp_path: Path) -> None:
    from tests.test_frameworks import PROJECT, _alone, _gcov_lines, _plain_build

    require("gcc", "g++", "make", "gcov")
    project = tmp_path / "fw" / "frameworks"
    shutil.copytree(PROJECT, project)
    (project / "test.select").write_text("\n".join(FRAMEWORK_SELECTED) + "\n")
    settings = load_settings(project / "covguard.toml", overrides={"test.select": "test.select"})
    outcome = api.run(settings)
    assert {c.test: c.status for c in outcome.results.cases} == dict.fromkeys(FRAMEWORK_SELECTED, "passed")
    assert outcome.analysis is not None
    lines = outcome.analysis.coverage.lines
    logs = "".join(p.read_text() for p in settings.work_dir.rglob("logs/test_dose_gtest/stdout.*.txt"))
    assert "[ RUN      ] Limiter.FloorThroughHelper" in logs
    assert "FailsOnPurpose" not in logs  # GTEST_FILTER: never started
    cpputest_runs = list(settings.work_dir.rglob("logs/test_dose_cpputest/stdout.*.txt"))
    assert len(cpputest_runs) == 2  # one run per selected case (-sg GROUP -sn NAME)
    plain = _plain_build(tmp_path / "plain")
    for test in FRAMEWORK_SELECTED:
        exe, name = test.split("::")
        for gcda in (plain / "plain").rglob("*.gcda"):
            gcda.unlink()
        _alone(plain, exe, name)
        truth = {key for key, count in _gcov_lines(plain).items() if count > 0}
        mine = lines[(lines["test"].astype(str) == test) & (lines["count"] > 0)]
        assert set(zip(mine["file"].astype(str), mine["line"].astype(int), strict=True)) == truth, test


def _run_selected(project: Path, config: str, selected: list[str], tmp_path: Path) -> api.Outcome:
    """``covguard run`` of the thermo fixture's ``config`` with ``selected`` as its test.select."""
    (project / "test.select").write_text("\n".join(selected) + "\n")
    overrides = {
        "work_dir": str(tmp_path / "work"),
        "output_dir": str(tmp_path / "out"),
        "report.gcovr": [],
        "test.select": "test.select",
    }
    return api.run(load_settings(project / config, overrides=overrides))


def test_custom_runner_starts_only_the_selected_cases(tmp_path: Path) -> None:
    from tests.test_invocations import _alone, _make_plain, _per_test, _project

    require("gcc", "make", "gcov")
    project = _project(tmp_path)
    selected = ["thermo::to_f_via_helper", "thermo::alarm_env"]
    outcome = _run_selected(project, "runner.toml", selected, tmp_path)
    assert {c.test: c.status for c in outcome.results.cases} == dict.fromkeys(selected, "passed")
    started = sorted(p.parent.name for p in (tmp_path / "work").rglob("logs/runner0/*/stdout.*.txt"))
    assert started == ["00001-to_f_via_helper", "00006-alarm_env"]  # none for the others
    build = tmp_path / "plain" / "b"
    _make_plain(project, build)
    prog = build / "tests" / "thermo_cases"
    data = project / "tests" / "data"
    alone = {
        t: _alone(project, build, [prog, t.split("::")[1]], cwd=data, env={"THERMO_LIMIT": "40"})
        for t in selected
    }
    assert _per_test(outcome) == alone


@pytest.mark.slow
def test_ctest_tests_by_name_and_a_harness_case_under_ctest(tmp_path: Path) -> None:
    from tests.test_invocations import _project

    require("gcc", "gcov", "cmake", "ctest", "ninja")
    project = _project(tmp_path)
    # a CTest test by its name (no '::'), and one case of the harness executable CTest runs
    selected = ["alarm_env", "harness::converts_via_helper"]
    outcome = _run_selected(project, "ctest.toml", selected, tmp_path)
    assert {c.test: c.status for c in outcome.results.cases} == dict.fromkeys(selected, "passed")
    logs = tmp_path / "work"
    started = sorted(p.parent.name for p in logs.rglob("logs/ctest/*/stdout.0.txt"))
    assert [s.split("-", 1)[1] for s in started] == ["alarm_env", "harness"]
    harness = next(logs.rglob("logs/ctest/*-harness/stdout.0.txt")).read_text()
    assert "\tconverts_via_helper\t" in harness
    assert "\tclamps_high\t" not in harness  # never started
    assert outcome.results.selection == {"file": "test.select", "tests": 2, "missing": []}


def test_a_hostile_results_file_cannot_break_the_new_fields() -> None:
    from covguard.analysis.findings import definition_tag_findings, selected_run_findings
    from covguard.run.runner import TestRun

    doc: dict[str, object] = {
        "cases": [],
        "runs": [],
        "units": {},
        "selection": {"file": "s" * 5000, "tests": "many", "missing": 7},
        "unattached_verifies": [
            {"file": "CMakeLists.txt", "line": 3, "requirement": "R-1"},
            {"file": "x", "line": "3; rm -rf /", "requirement": "R-2"},
            {"file": "x", "line": True, "requirement": "R-3"},
            "not a tag",
        ],
    }
    run = TestRun.from_json(doc)
    assert run.unattached == [{"file": "CMakeLists.txt", "line": 3, "requirement": "R-1"}]
    tags = definition_tag_findings(run.unattached)
    assert tags[["file", "line", "requirement"]].values.tolist() == [["CMakeLists.txt", 3, "R-1"]]
    partial = selected_run_findings(run.selection)
    assert partial["kind"].tolist() == ["selected_run"]
    assert len(str(partial["file"].iloc[0])) == 1000
    assert TestRun.from_json({"cases": [], "runs": [], "units": {}}).selection is None  # older files
