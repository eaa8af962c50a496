"""Unity suites, per test case, with no change to their tests or runners: the fixture
(tests/fixtures/projects/unity) has Unity's entry points and output format and both runner styles
(RUN_TEST in a hand-written main; a generated runner's static run_test).  Each runner has a hollow
test, a test reaching its requirement's code through a helper in another file, a failing test, a
crashing test and an ignored test.

The truth per test case is derived independently: each test is built alone with plain
``gcc --coverage`` (a main with only its RUN_TEST) and run, and gcovr reads its coverage."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from covguard import api
from covguard.config import load_settings
from tests.conftest import FIXTURES, require, run

UNITY = FIXTURES / "projects" / "unity"
FLAGS = ["-std=c99", "-O0", "-g", "--coverage", "-fprofile-abs-path", "-Isrc", "-Iunity", "-Itests"]

# test -> (status, requirements it verifies)
EXPECTED = {
    "test_thermo::test_clamp_low": ("passed", ["TH-1"]),
    "test_thermo::test_fahrenheit_through_helper": ("passed", ["TH-2"]),
    "test_thermo::test_alarm_hollow": ("passed", ["TH-3"]),
    "test_thermo::test_clamp_high_fails": ("failed", ["TH-1"]),
    "test_thermo::test_average_crashes": ("error", ["TH-4"]),
    "test_thermo::test_alarm_ignored": ("skipped", ["TH-3"]),
    "test_limits::test_limits_average": ("passed", ["TH-4"]),
    "test_limits::test_limits_freezing_through_helper": ("passed", ["TH-2"]),
    "test_limits::test_limits_hollow": ("passed", ["TH-1"]),
    "test_limits::test_limits_alarm_fails": ("failed", ["TH-3"]),
    "test_limits::test_limits_average_crashes": ("error", ["TH-4"]),
    "test_limits::test_limits_ignored": ("skipped", ["TH-1"]),
    "test_limits::test_limits_alarm_quiet": ("passed", ["TH-3"]),
    "test_limits::test_limits_clamp_case(-50, -40)": ("passed", ["TH-1"]),  # parametrised (TEST_CASE)
    "test_limits::test_limits_clamp_case(200, 125)": ("passed", ["TH-1"]),
}
TEST_FILE = {"test_thermo": "tests/test_thermo.c", "test_limits": "tests/test_limits.c"}


@pytest.fixture(scope="module")
def unity_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, api.Outcome]:
    require("gcc", "make", "gcov")
    project = tmp_path_factory.mktemp("unity") / "project"
    shutil.copytree(UNITY, project)
    settings = load_settings(project / "covguard.toml")
    return project, api.run(settings)


def _truth(project: Path, test: str, work: Path) -> dict[str, Any]:
    """gcovr's JSON for ``test`` built alone with plain gcc --coverage and run alone."""
    exe_label, name = test.split("::")
    folder = work / name
    folder.mkdir(parents=True)
    main = folder / "truth_main.c"
    if "(" in name:  # a parametrised case: a wrapper with its arguments, as the generated runner has
        base, args = name[:-1].split("(", 1)
        declare = f"extern void {base}(int, int);\nstatic void alone(void) {{ {base}({args}); }}\n"
        name, call = base, "alone"
    else:
        declare, call = f"extern void {name}(void);\n", name
    main.write_text(
        '#include "unity.h"\n'
        + declare
        + "int main(void)\n{\n    UNITY_BEGIN();\n"
        + f"    RUN_TEST({call});\n    return UNITY_END();\n}}\n"
    )
    sources = ["src/thermo.c", "src/scale.c", "tests/helpers.c", "unity/unity.c", TEST_FILE[exe_label]]
    objects = []
    for i, src in enumerate(sources):
        obj = folder / f"{i}-{Path(src).stem}.o"
        run(["gcc", *FLAGS, "-Dmain=cg_user_main", "-c", src, "-o", obj], cwd=project)
        objects.append(obj)
    run(["gcc", *FLAGS, "-c", main, "-o", folder / "main.o"], cwd=project)
    exe = folder / "alone"
    run(["gcc", "--coverage", *objects, folder / "main.o", "-o", exe], cwd=project)
    subprocess.run([exe], cwd=project, capture_output=True, check=False)  # the crashing test crashes
    out = folder / "gcovr.json"
    run(
        [sys.executable, "-m", "gcovr", "--root", project, "--filter", project / "src", "--json", out, folder]
    )
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def _executed(gcovr_json: dict[str, Any]) -> set[tuple[str, int]]:
    return {
        (f["file"], int(line["line_number"]))
        for f in gcovr_json["files"]
        for line in f["lines"]
        if line["count"] > 0
    }


def test_statuses_requirements_and_attribution_per_case(unity_run: tuple[Path, api.Outcome]) -> None:
    project, outcome = unity_run
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    got = {t["id"]: (t["status"], t["verifies"]) for t in doc["tests"]}
    assert got == {k: (s, v) for k, (s, v) in EXPECTED.items()}
    assert {t["attribution"] for t in doc["tests"]} == {"test"}
    assert not any(f["kind"] == "coarse_attribution" for f in doc["findings"])
    # the failure where Unity printed it (the assertion's line), with the test's own output before it
    fails = {t["id"]: t for t in doc["tests"] if t["status"] == "failed"}
    assert fails["test_thermo::test_clamp_high_fails"]["line"] == 41
    assert fails["test_thermo::test_clamp_high_fails"]["message"] == "Expected 130 Was 125"
    # a test that crashed before Unity printed its line: at its definition
    crashed = {t["id"]: (t["file"], t["line"]) for t in doc["tests"] if t["status"] == "error"}
    assert crashed == {
        "test_thermo::test_average_crashes": ("tests/test_thermo.c", 45),
        "test_limits::test_limits_average_crashes": ("tests/test_limits.c", 49),
    }
    # JUnit: requirements of @verifies tags above the test definitions are properties
    junit = (project / "covguard-report" / "junit.xml").read_text()
    assert junit.count('name="requirement"') == len(EXPECTED)
    # the crash is an error and the cases after it still ran (resumed after the crash)
    assert "test 'test_average_crashes' killed by SIGSEGV" in " ".join(outcome.problems)
    kinds = [(f["kind"], f.get("test"), f.get("requirement")) for f in doc["findings"]]
    assert ("hollow_verification", "test_thermo::test_alarm_hollow", "TH-3") in kinds
    assert ("hollow_verification", "test_limits::test_limits_hollow", "TH-1") in kinds
    loose = [f for f in doc["findings"] if f["kind"] == "unattached_verifies"]
    assert [(f["file"], f["line"], f["requirement"]) for f in loose] == [("tests/test_thermo.c", 58, "TH-5")]
    incidental = next(f for f in doc["findings"] if f["kind"] == "incidental")
    assert incidental["function"] == "thermo_init"  # setUp's code: counted with every test
    assert "which verify TH-1, TH-2, TH-3, TH-4" in incidental["message"]
    statuses = {r["id"]: r["status"] for r in doc["requirements"]}
    assert statuses == {"TH-1": "failing", "TH-2": "verified", "TH-3": "failing", "TH-4": "failing",
                        "TH-5": "unverified"}  # fmt: skip


@pytest.mark.slow
def test_lines_of_each_case_equal_the_case_run_alone(
    unity_run: tuple[Path, api.Outcome], tmp_path: Path
) -> None:
    project, outcome = unity_run
    assert outcome.analysis is not None
    lines = outcome.analysis.coverage.lines
    tests = outcome.analysis.tests.set_index("test")
    lines = lines[lines["count"] > 0]
    merged: set[tuple[str, int]] = set()
    for test in EXPECTED:
        truth = _executed(_truth(project, test, tmp_path / test.split("::")[0]))
        unit = tests.loc[test, "coverage_unit"]
        ours = lines[lines["test"].astype(str) == unit]
        got = set(zip(ours["file"].astype(str), ours["line"].astype(int), strict=True))
        assert got == truth, test
        if "crashes" in test:  # killed by SIGSEGV: no coverage, alone or in covguard
            assert not truth
        else:
            assert truth, test
        merged |= truth
    # totals over the whole run equal gcovr's over the tests run alone
    totals = outcome.analysis.coverage.file_totals()
    covered = pd.Series([f for f, _ in merged]).value_counts()
    for file, row in totals.iterrows():
        assert row["lines_covered"] == covered.get(str(file), 0), file


def test_gcovr_totals_of_the_run(unity_run: tuple[Path, api.Outcome], tmp_path: Path) -> None:
    """Line totals per file equal gcovr's over covguard's own build (every executable line)."""
    project, outcome = unity_run
    assert outcome.analysis is not None
    summary = tmp_path / "summary.json"
    build = project / ".covguard" / "host-gcc" / "build"
    run([sys.executable, "-m", "gcovr", "--root", project, "--filter", project / "src", "--json-summary",
         summary, build])  # fmt: skip
    theirs = {f["filename"]: f["line_total"] for f in json.loads(summary.read_text())["files"]}
    ours = outcome.analysis.coverage.file_totals()["lines"].to_dict()
    assert ours == theirs


def test_output_that_only_looks_like_unity_is_attributed_per_executable(tmp_path: Path) -> None:
    """A home-made runner printing Unity's format: no hooks to call, so its tests are credited
    with the whole executable's coverage, and covguard says so."""
    require("gcc", "make", "gcov")
    project = tmp_path / "project"
    shutil.copytree(UNITY, project)
    settings = load_settings(
        project / "covguard.toml",
        overrides={
            "build.command": "make lookalike BUILD_DIR={build_dir}",
            "test.executables": ["{build_dir}/tests/test_lookalike"],
            "test_sources": ["extra/**"],
        },
    )
    outcome = api.run(settings)
    assert outcome.analysis is not None
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    # the console summary and the HTML report say so too
    from covguard.report.console import render_summary

    assert "2 tests credited per executable, not per test" in render_summary(doc)
    # the summary `covguard analyse` prints comes from the view, not the document: the same text
    from covguard.report.findings_json import summary_view

    fresh = dataclasses.replace(outcome.analysis, cache={})
    assert render_summary(summary_view(fresh, outcome.gate, head=40)) == render_summary(doc)
    page = (project / "covguard-report" / "index.html").read_text()
    assert "2 test(s) are credited with their whole executable" in page
    assert "complete (per executable)" in page
    tests = {t["id"]: (t["status"], t["verifies"], t["attribution"]) for t in doc["tests"]}
    assert tests == {
        "test_lookalike::test_init_then_alarm": ("passed", ["TH-5"], "executable"),
        "test_lookalike::test_boiling": ("passed", ["TH-2"], "executable"),
    }
    coarse = [f for f in doc["findings"] if f["kind"] == "coarse_attribution"]
    assert len(coarse) == 1
    assert coarse[0]["severity"] == "warning"
    assert coarse[0]["file"] == ".covguard/host-gcc/build/tests/test_lookalike"
    assert coarse[0]["requirement"] == "TH-2, TH-5"
    assert "credited with everything the executable ran" in coarse[0]["message"]
    # at that granularity test_boiling is credited with thermo_init and thermo_alarm too: TH-5 and
    # TH-3's code run by "a test of TH-2" - which is exactly what the warning is there to say
    fn = {f["function"]: f for f in doc["functions"]}
    assert fn["thermo_init"]["class"] == "verified"
    assert fn["thermo_to_f"]["class"] == "verified"


def test_a_runner_the_hooks_cannot_see_is_attributed_per_executable(tmp_path: Path) -> None:
    """setUp beside a generated-style run_test in one object: --wrap cannot see a case begin, so
    the whole run is the executable's, attributed and reported as such - never silently coarse."""
    require("gcc", "make", "gcov")
    project = tmp_path / "project"
    shutil.copytree(UNITY, project)
    overrides = {
        "build.command": "make one_file BUILD_DIR={build_dir}",
        "test.executables": ["{build_dir}/tests/test_one_file"],
        "test_sources": ["extra/**"],
    }
    outcome = api.run(load_settings(project / "covguard.toml", overrides=overrides))
    assert not outcome.problems
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    assert [(t["id"], t["status"], t["verifies"], t["attribution"]) for t in doc["tests"]] == [
        ("test_one_file::test_one_file_clamp", "passed", ["TH-1"], "executable")
    ]
    coarse = [f for f in doc["findings"] if f["kind"] == "coarse_attribution"]
    assert [f["requirement"] for f in coarse] == ["TH-1"]
    fn = {f["function"]: f for f in doc["functions"]}
    assert fn["thermo_clamp"]["class"] == "verified"  # the executable's coverage came back
    assert fn["thermo_init"]["executed"]


def _functions_per_case(outcome: api.Outcome) -> set[tuple[str, str]]:
    assert outcome.analysis is not None
    f = outcome.analysis.coverage.functions
    f = f[f["count"] > 0]
    unit_test = dict(
        zip(outcome.analysis.tests["coverage_unit"], outcome.analysis.tests["test"], strict=False)
    )
    return {(unit_test[str(u)], str(n)) for u, n in zip(f["test"], f["function"], strict=True)}


def test_clang_profile_gives_the_same_cases_and_functions(
    unity_run: tuple[Path, api.Outcome], tmp_path: Path
) -> None:
    """host-clang links the same hooks with clang's profile run-time: the same cases, statuses and
    requirements, and each case executes the same product functions as with gcc."""
    require("clang-19", "llvm-cov-19", "make")
    project = tmp_path / "project"
    shutil.copytree(UNITY, project)
    outcome = api.run(load_settings(project / "covguard.toml", overrides={"toolchain": "host-clang"}))
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    got = {t["id"]: (t["status"], t["verifies"]) for t in doc["tests"]}
    assert got == dict(EXPECTED)
    assert {t["attribution"] for t in doc["tests"]} == {"test"}
    assert _functions_per_case(outcome) == _functions_per_case(unity_run[1])
    assert ("test_thermo::test_fahrenheit_through_helper", "scale_mul") in _functions_per_case(outcome)
