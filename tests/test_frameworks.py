"""GoogleTest, CppUTest and cmocka suites as teams write them, built with the real frameworks
(Debian libgtest-dev, libcpputest-dev, libcmocka-dev): per test case results and coverage through
covguard's hooks, with no change to the tests, their main() or the Makefile.

The truth is derived independently: the same fixture built by its own Makefile with plain
``--coverage`` (no covguard), each test case run alone through its framework's own selection
(``--gtest_filter``, ``-sg/-sn``, cmocka's test filter), and gcov's JSON read for the lines it ran.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.config import load_settings
from covguard.run.frameworks import cmocka_results, cpputest_failures, framework_of, parse_record
from covguard.trace.demangle import demangle
from tests.conftest import FIXTURES, require, run

PROJECT = FIXTURES / "projects" / "frameworks"
pytestmark = pytest.mark.slow

GTEST = "test_dose_gtest"
CPPUTEST = "test_dose_cpputest"
CMOCKA = "test_rate_cmocka"

STATUS = {
    f"{GTEST}::Limiter.HollowCallsNothing": "passed",
    f"{GTEST}::Limiter.ClampsAboveMaximum": "passed",
    f"{GTEST}::Limiter.FloorThroughHelper": "passed",
    f"{GTEST}::Limiter.FailsOnPurpose": "failed",
    f"{GTEST}::Limiter.DISABLED_NotWrittenYet": "skipped",
    f"{GTEST}::Crash.DividesByZero": "error",
    f"{GTEST}::Rounding.NegativeRoundsAway": "passed",
    f"{GTEST}::Small/Clamp.NeverAbove/0": "passed",
    f"{GTEST}::Small/Clamp.NeverAbove/1": "passed",
    f"{GTEST}::Scaled/0.ByZeroKeepsValue": "passed",
    f"{GTEST}::Scaled/1.ByZeroKeepsValue": "passed",
    f"{GTEST}::Skipping.SkippedAtRunTime": "skipped",
    f"{CPPUTEST}::Limiter.HollowCallsNothing": "passed",
    f"{CPPUTEST}::Limiter.ClampsAboveMaximum": "passed",
    f"{CPPUTEST}::Limiter.FloorThroughHelper": "passed",
    f"{CPPUTEST}::Limiter.FailsOnPurpose": "failed",
    f"{CPPUTEST}::Limiter.NotWrittenYet": "skipped",
    f"{CPPUTEST}::Rounding.NegativeRoundsAway": "passed",
    f"{CPPUTEST}::Rounding.CrashDividesByZero": "error",
    f"{CMOCKA}::hollow_checks_nothing": "passed",
    f"{CMOCKA}::limits_above_maximum": "passed",
    f"{CMOCKA}::limits_through_helper": "passed",
    f"{CMOCKA}::fails_on_purpose": "failed",
    f"{CMOCKA}::crashes_dividing_by_zero": "error",
    f"{CMOCKA}::skipped_not_written_yet": "skipped",
    f"{CMOCKA}::uses_the_fixture": "passed",
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, api.Outcome]:
    require("gcc", "g++", "make", "gcov")
    project = tmp_path_factory.mktemp("fw") / "frameworks"
    shutil.copytree(PROJECT, project)
    settings = load_settings(project / "covguard.toml")
    return project, api.run(settings)


def _plain_build(tmp: Path) -> Path:
    project = tmp / "frameworks"
    shutil.copytree(PROJECT, project)
    env = {k: v for k, v in os.environ.items() if "COV" not in k}
    run(
        ["make", "-s", "tests", "BUILD_DIR=plain", "CXXFLAGS=-std=c++17 -g -O0 --coverage",
         "CFLAGS=-std=c99 -g -O0 --coverage", "LDFLAGS=--coverage"],
        cwd=project, env=env,
    )  # fmt: skip
    return project


def _alone(project: Path, exe: str, name: str) -> None:
    """Run one test case alone with its framework's own selection, accumulating .gcda files."""
    path = project / "plain" / "tests" / exe
    if exe == GTEST:
        args = [f"--gtest_filter={name}"]
    elif exe == CPPUTEST:
        group, _, case = name.partition(".")
        args = ["-sg", group, "-sn", case]
    else:
        args = [name]
    env = {k: v for k, v in os.environ.items() if "COV" not in k and not k.startswith("GCOV")}
    subprocess.run([path, *args], cwd=project, env=env, capture_output=True, check=False)


def _gcov_lines(project: Path) -> dict[tuple[str, int], int]:
    """(file, line) -> count of the product code, from gcov's JSON of the plain build."""
    out: dict[tuple[str, int], int] = {}
    for gcda in sorted((project / "plain" / "obj").rglob("*.gcda")):
        proc = subprocess.run(
            ["gcov", "--json-format", "--stdout", gcda],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
        )
        for doc in proc.stdout.splitlines():
            for f in json.loads(doc)["files"]:
                if not f["file"].startswith("src/"):
                    continue
                for line in f["lines"]:
                    key = (f["file"], line["line_number"])
                    out[key] = out.get(key, 0) + line["count"]
    return out


def _executed(lines: Any, test: str) -> set[tuple[str, int]]:
    mine = lines[(lines["test"] == test) & (lines["count"] > 0)]
    return set(zip(mine["file"].astype(str), mine["line"].astype(int), strict=True))


def test_statuses_ids_and_places(outcome: tuple[Path, api.Outcome]) -> None:
    _, result = outcome
    got = {c.test: c.status for c in result.results.cases}
    assert got == STATUS
    by_id = {c.test: c for c in result.results.cases}
    failed = by_id[f"{GTEST}::Limiter.FailsOnPurpose"]
    assert (failed.file, failed.line) == ("tests/test_dose_gtest.cpp", 29)  # the TEST, not the assertion
    assert failed.message.startswith("tests/test_dose_gtest.cpp:32: Expected equality")
    assert by_id[f"{CPPUTEST}::Limiter.FailsOnPurpose"].message.startswith(
        "tests/test_dose_cpputest.cpp:34: LONGS_EQUAL(7, limiter.clamp(3)) failed"
    )
    assert (
        by_id[f"{CMOCKA}::fails_on_purpose"].message
        == "0x7 != 0x3; tests/test_rate_cmocka.c:45: error: Failure!"
    )
    assert (
        by_id[f"{CMOCKA}::limits_through_helper"].file,
        by_id[f"{CMOCKA}::limits_through_helper"].line,
    ) == (
        "tests/test_rate_cmocka.c",
        35,
    )
    crashed = [c for c in result.results.cases if c.status == "error"]
    assert {c.message for c in crashed} == {"killed by SIGABRT"}
    assert all(c.coverage == "incomplete" for c in crashed)
    # the tests after a crash ran in a resumed process: CppUTest runs its first-registered last
    runs = {r.label: r for r in result.results.runs}
    assert {label: r.format for label, r in runs.items()} == {
        GTEST: "gtest",
        CPPUTEST: "cpputest",
        CMOCKA: "cmocka",
    }
    assert runs[CPPUTEST].crashed == "test 'Rounding.CrashDividesByZero' killed by SIGABRT"


def test_each_case_executes_exactly_what_it_runs_alone(
    outcome: tuple[Path, api.Outcome], tmp_path: Path
) -> None:
    """Per test case, the product lines covguard credits equal the lines gcov reports for a plain
    build running only that case; merged, the totals equal gcovr's on the same plain runs."""
    _, result = outcome
    assert result.analysis is not None
    lines = result.analysis.coverage.lines
    plain = _plain_build(tmp_path)
    ran = [t for t, s in STATUS.items() if s != "error" and "DISABLED" not in t and "NotWritten" not in t]
    for test in ran:
        for gcda in plain.rglob("*.gcda"):
            gcda.unlink()
        exe, name = test.split("::")
        _alone(plain, exe, name)
        truth = {k for k, v in _gcov_lines(plain).items() if v > 0}
        assert _executed(lines, test) == truth, test
    # every case again, accumulated: gcovr's totals of the plain runs equal covguard's merged ones
    for gcda in plain.rglob("*.gcda"):
        gcda.unlink()
    for test in ran:
        _alone(plain, *test.split("::"))
    summary = tmp_path / "gcovr.json"
    # --merge-lines: a template's line counted once, not once per instance (gcovr 8's default)
    run(
        [sys.executable, "-m", "gcovr", "--merge-lines", "--root", plain, "--filter", str(plain / "src"),
         "--json-summary", summary, plain / "plain"],
        cwd=plain,
    )  # fmt: skip
    theirs = {f["filename"]: f for f in json.loads(summary.read_text())["files"]}
    ours = result.analysis.coverage.file_totals()
    assert set(theirs) == set(ours.index)
    for file, row in ours.iterrows():
        g = theirs[str(file)]
        assert (row["lines"], row["lines_covered"]) == (g["line_total"], g["line_covered"]), file
        if str(file).endswith(".hpp"):
            # a template instantiated in two objects: gcovr merges (or, without --merge-lines, keeps
            # apart) its instances' branches and functions its own way; covguard keeps gcov's per
            # object counts.  Lines agree (above); the rest is compared on the .cpp/.c files.
            continue
        assert (row["branches"], row["branches_covered"]) == (g["branch_total"], g["branch_covered"]), file
        assert (row["functions"], row["functions_covered"]) == (g["function_total"], g["function_covered"]), (
            file
        )


def test_requirements_attach_and_the_hollow_tests_are_found(outcome: tuple[Path, api.Outcome]) -> None:
    _, result = outcome
    assert result.analysis is not None
    tr = result.analysis.test_requirements
    pairs = set(zip(tr["test"].astype(str), tr["requirement"].astype(str), strict=True))
    for exe in (GTEST, CPPUTEST):
        assert (f"{exe}::Limiter.HollowCallsNothing", "FW-3") in pairs
        assert (f"{exe}::Limiter.ClampsAboveMaximum", "FW-1") in pairs
        assert (f"{exe}::Limiter.FloorThroughHelper", "FW-2") in pairs
    assert (f"{GTEST}::Small/Clamp.NeverAbove/1", "FW-1") in pairs  # @verifies above TEST_P
    assert (f"{GTEST}::Rounding.NegativeRoundsAway", "FW-3") in pairs  # TEST_F
    assert (f"{GTEST}::Scaled/1.ByZeroKeepsValue", "FW-7") in pairs  # TYPED_TEST, each type
    assert (f"{CMOCKA}::limits_through_helper", "FW-5") in pairs
    assert (f"{CMOCKA}::hollow_checks_nothing", "FW-6") in pairs
    hollow = result.analysis.findings
    hollow = hollow[hollow["kind"] == "hollow_verification"]
    assert set(zip(hollow["test"], hollow["requirement"], strict=True)) == {
        (f"{GTEST}::Limiter.HollowCallsNothing", "FW-3"),
        (f"{CPPUTEST}::Limiter.HollowCallsNothing", "FW-3"),
        (f"{CMOCKA}::hollow_checks_nothing", "FW-6"),
    }
    # @req above C++ methods, overloads and namespaced functions, named as C++ names them
    fr = result.analysis.function_requirements
    assert set(zip(fr["function"].astype(str), fr["requirement"].astype(str), strict=True)) == {
        ("pump::dose::Limiter::clamp(int) const", "FW-1"),
        ("pump::dose::Limiter::~Limiter()", "FW-1"),  # D0, D1, D2: one function, as written
        ("pump::dose::Limiter::clamp(int, int) const", "FW-2"),
        ("pump::dose::rounded(double)", "FW-3"),
        ("pump::checked_divide(int, int)", "FW-4"),
        ("rate_limit", "FW-5"),
        ("rate_divide", "FW-6"),
        # @req above a template: every instance (tag attachment picks one; the others share it)
        ("int pump::dose::scaled<int>(int, int)", "FW-7"),
        ("long pump::dose::scaled<long>(long, long)", "FW-7"),
    }
    functions = set(result.analysis.coverage.code_functions["function"].astype(str))
    assert {"int pump::dose::scaled<int>(int, int)", "long pump::dose::scaled<long>(long, long)"} <= functions


def test_the_hook_is_linked_only_into_framework_executables(outcome: tuple[Path, api.Outcome]) -> None:
    project, _ = outcome
    tests = project / ".covguard" / "host-gcc" / "build" / "tests"
    assert {p.name: framework_of(p) for p in tests.iterdir()} == {
        GTEST: "gtest",
        CPPUTEST: "cpputest",
        CMOCKA: "cmocka",
    }
    assert framework_of(Path(sys.executable)) is None


def test_a_hostile_record_is_a_problem_never_a_crash(tmp_path: Path) -> None:
    record = tmp_path / "record.0.tsv"
    record.write_text("start\tgtest\t0\nbegin\tx\tA.b\nend\t7\tPASS\t1\nbogus\nbegin\t0\tA.b\tf.cpp\t3\n")
    parsed = parse_record(record)
    assert parsed is not None
    assert [c.name for c in parsed.cases] == ["A.b"]
    assert parsed.cases[0].status is None  # began, never ended: a crash inside it
    assert len(parsed.problems) == 3
    assert parse_record(tmp_path / "missing.tsv") is None


def test_cxx_names_are_demangled_and_c_names_kept() -> None:
    require("c++filt")
    names = ["_ZNK4pump4dose7Limiter5clampEii", "rate_limit", "_ZN4pump4dose6scaledIiEET_S2_S2_", "_Znope"]
    assert demangle(names) == [
        "pump::dose::Limiter::clamp(int, int) const",
        "rate_limit",
        "int pump::dose::scaled<int>(int, int)",
        "_Znope",
    ]
    # a destructor's deleting (D0) and base (D2) variants: one name (the coverage merges them)
    assert demangle(["_ZN4pump1AD2Ev", "_ZN4pump1AD0Ev"]) == ["pump::A::~A()", "pump::A::~A()"]


def test_framework_output_parsers() -> None:
    out = "TEST(G, N)\nsrc/t.cpp:9: error: Failure in TEST(G, N)\n\texpected <1>\n\tbut was  <2>\n\n - 0 ms\n"
    assert cpputest_failures(out) == {"G.N": "src/t.cpp:9: expected <1>; but was  <2>"}
    stdout = "[ RUN      ] a\n[       OK ] a\n[ RUN      ] b\n[  FAILED  ] b\n"
    stdout += "[  SKIPPED ] c\n[  FAILED  ] 1 test(s)\n"
    stderr = "[  ERROR   ] --- 0x1 != 0x2\n[   LINE   ] --- t.c:4: error: Failure!\n"
    assert cmocka_results(stdout, stderr) == {
        "a": ("passed", ""),
        "b": ("failed", "0x1 != 0x2; t.c:4: error: Failure!"),
        "c": ("skipped", ""),
    }


def test_the_wrapper_adds_the_hook_before_the_framework_library(tmp_path: Path) -> None:
    """Only links of executables that use a framework get a hook, placed before the library (so
    a static library resolves the hook's references); cmocka's group runner is wrapped."""
    require("gcc", "g++")
    from covguard.builder.ccwrap import with_framework_hooks

    log = tmp_path / "cc-log"
    log.mkdir()
    cfg: dict[str, object] = {
        "compiler": "gcc",
        "cxx_compiler": "g++",
        "defines": ["-DCOVGUARD_COVERAGE_GCOV"],
        "log_dir": str(log),
    }
    gtest = ["a.o", "/usr/lib/x86_64-linux-gnu/libgtest_main.a", "-lgtest", "-pthread", "-o", "t"]
    out = with_framework_hooks(gtest, cfg)
    assert len(out) == len(gtest) + 1
    assert Path(out[1]).is_file()
    assert Path(out[1]).parent.name == "framework-hooks"
    assert out[2:] == gtest[1:]
    assert with_framework_hooks(gtest, cfg)[1] == out[1]  # compiled once per build
    cmocka = with_framework_hooks(["t.o", "-lcmocka", "-o", "t"], cfg)
    assert cmocka[1:3] == [cmocka[1], "-Wl,--wrap=_cmocka_run_group_tests"]
    assert cmocka[3:] == ["-lcmocka", "-o", "t"]
    assert with_framework_hooks(["a.o", "-shared", "-lgtest", "-o", "libx.so"], cfg) == [
        "a.o", "-shared", "-lgtest", "-o", "libx.so"
    ]  # fmt: skip
    assert with_framework_hooks(["a.o", "-lm", "-o", "t"], cfg) == ["a.o", "-lm", "-o", "t"]


EDGE_GTEST = """
#include <gtest/gtest.h>
#include <cstdlib>
#include "calc.hpp"
TEST(A, One) { EXPECT_EQ(2, twice(1)); }
TEST(A, Crashes) { if (std::getenv("EDGE_CRASH")) std::abort(); }
TEST(A, Hangs) { while (std::getenv("EDGE_HANG")) {} }
TEST(A, Three) { EXPECT_EQ(6, twice(3)); }
TEST(B, Four) { EXPECT_EQ(8, twice(4)); }
class Boom : public ::testing::Environment {
  public:
    void SetUp() override { if (std::getenv("EDGE_ENV_CRASH")) std::abort(); }
};
int main(int argc, char **argv)
{
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new Boom);
    if (std::getenv("EDGE_NO_RUN")) return 0;
    return RUN_ALL_TESTS();
}
"""


def test_shuffled_resume_a_crash_outside_any_test_and_no_run(tmp_path: Path) -> None:
    """A shuffled suite resumes by name; a crash before the first test leaves every listed test an
    error (never a silent gap); an executable that links GoogleTest but never runs it is handled
    as any other program."""
    require("gcc", "g++", "make", "gcov")
    project = tmp_path / "edge"
    (project / "src").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "src" / "calc.hpp").write_text("int twice(int x);\n")
    (project / "src" / "calc.cpp").write_text(
        '#include "calc.hpp"\nint twice(int x)\n{\n    return 2 * x;\n}\n'
    )
    (project / "tests" / "edge.cpp").write_text(EDGE_GTEST)
    (project / "Makefile").write_text(
        ".PHONY: tests\ntests:\n\tmkdir -p $(BUILD_DIR)/tests\n"
        "\t$(CXX) -Isrc -c src/calc.cpp -o $(BUILD_DIR)/calc.o\n"
        "\t$(CXX) -Isrc -c tests/edge.cpp -o $(BUILD_DIR)/edge.o\n"
        "\t$(CXX) $(BUILD_DIR)/edge.o $(BUILD_DIR)/calc.o -lgtest -pthread -o $(BUILD_DIR)/tests/edge\n"
    )
    (project / "requirements.csv").write_text("id,title,safety_class\nE-1,Twice,B\n")
    (project / "covguard.toml").write_text(
        'sources = ["src/**"]\nrequirements = ["requirements.csv"]\n[build]\n'
        'command = "make tests BUILD_DIR={build_dir}"\n[test]\nexecutables = ["{build_dir}/tests/*"]\n'
    )
    settings = load_settings(project / "covguard.toml")
    api.build(settings)
    names = ["A.One", "A.Crashes", "A.Hangs", "A.Three", "B.Four"]

    with pytest.MonkeyPatch.context() as env:
        for k, v in {"EDGE_CRASH": "1", "GTEST_SHUFFLE": "1", "GTEST_RANDOM_SEED": "7"}.items():
            env.setenv(k, v)
        shuffled = api.test(settings)
    got = {c.name: (c.status, c.coverage) for c in shuffled.cases}
    assert got == {
        "A.One": ("passed", "complete"),
        "A.Crashes": ("error", "incomplete"),
        "A.Hangs": ("passed", "complete"),
        "A.Three": ("passed", "complete"),
        "B.Four": ("passed", "complete"),
    }
    assert sorted(shuffled.units) == sorted(f"edge::{n}" for n in names)
    assert len(set(shuffled.units.values())) == 5  # every case its own folder

    with pytest.MonkeyPatch.context() as env:
        env.setenv("EDGE_HANG", "1")
        hung = api.test(load_settings(project / "covguard.toml", overrides={"test.timeout": 2}))
    assert {c.name: c.status for c in hung.cases} == {**dict.fromkeys(names, "passed"), "A.Hangs": "error"}
    assert [c.message for c in hung.cases if c.status == "error"] == [
        "timed out after 2 s (hung); killed with its process group"
    ]

    with pytest.MonkeyPatch.context() as env:
        env.setenv("EDGE_ENV_CRASH", "1")
        early = api.test(settings)
    assert {c.name: c.status for c in early.cases} == dict.fromkeys(names, "error")
    assert all(c.message.startswith("did not run: killed by SIGABRT outside any test") for c in early.cases)

    with pytest.MonkeyPatch.context() as env:
        env.setenv("EDGE_NO_RUN", "1")
        never = api.test(settings)
    assert never.runs[0].format != "gtest"  # the runner's own handling of a program


def test_clang_profile_same_cases_and_functions(outcome: tuple[Path, api.Outcome], tmp_path: Path) -> None:
    """With clang's source-based coverage (one .profraw per case from the same hooks), every case
    has the same status and enters the same functions, named the same, as with gcc."""
    require("clang-19", "llvm-cov-19")
    _, gcc = outcome
    project = tmp_path / "frameworks"
    shutil.copytree(PROJECT, project)
    clang = api.run(load_settings(project / "covguard.toml", overrides={"toolchain": "host-clang"}))
    assert {c.test: c.status for c in clang.results.cases} == STATUS
    assert gcc.analysis is not None
    assert clang.analysis is not None

    def entered(analysis: Any) -> set[tuple[str, str]]:
        f = analysis.coverage.functions
        f = f[f["count"] > 0]
        return set(zip(f["test"].astype(str), f["function"].astype(str), strict=True))

    assert entered(clang.analysis) == entered(gcc.analysis)
    assert (
        "test_dose_gtest::Limiter.FloorThroughHelper",
        "pump::dose::Limiter::clamp(int, int) const",
    ) in entered(clang.analysis)
