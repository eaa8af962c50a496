"""Exit-status programs, configured invocations, CTest and custom list/run runners, end to end on the
thermo fixture with the real gcc, make, cmake, ctest, gcov and gcovr.

The truth of every test's lines is derived independently: the fixture is built again with plain
``gcc --coverage`` (or plain CMake), the one test is run alone (by hand, or by ``ctest -R``), and
gcovr reads what it executed.  Statuses are checked against the fixture's design and, for CTest,
against ``ctest``'s own verdicts; totals against gcovr's for the whole suite run plainly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from covguard import api
from covguard.config import load_settings
from covguard.errors import ConfigError
from covguard.options import run_options
from covguard.run.invocations import Invocation, build_invocations, build_runners, judge
from covguard.trace.definitions import find_case, split_comments, verifies_at
from tests.conftest import FIXTURES, RUNTIME, covguard, require, run

THERMO = FIXTURES / "projects" / "thermo"
FLAGS = "-std=c99 -O0 -g --coverage -fprofile-abs-path"
Lines = set[tuple[str, int]]


# ---------------------------------------------------------------------------------------------
# helpers: the independent truth


def _project(tmp: Path) -> Path:
    project = tmp / "thermo"
    shutil.copytree(THERMO, project)
    return project


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("GCOV", "COVGUARD", "LLVM_PROFILE"))}


def _gcovr(project: Path, build: Path, out: Path, *fmt: str) -> dict[str, object]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gcovr",
            "--root",
            project,
            "--filter",
            str(project / "src"),
            *fmt,
            out,
            build,
        ],
        check=True,
        capture_output=True,
    )
    data: dict[str, object] = json.loads(out.read_text())
    return data


def _executed(project: Path, build: Path, out: Path) -> Lines:
    """(file, line) executed at least once, by gcovr, from the .gcda files now in ``build``."""
    data = _gcovr(project, build, out, "--json")
    return {
        (f["file"], ln["line_number"])
        for f in data["files"]  # type: ignore[attr-defined]
        for ln in f["lines"]
        if ln["count"] > 0
    }


def _alone(
    project: Path,
    build: Path,
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: Path | None = None,
) -> Lines:
    """Run one test alone in the plain build; the lines it executed, read by gcovr."""
    for gcda in build.rglob("*.gcda"):
        gcda.unlink()
    with open(stdin or os.devnull, "rb") as given:
        subprocess.run(
            [str(c) for c in command],
            cwd=cwd or build,
            env={**_plain_env(), **(env or {})},
            stdin=given,
            capture_output=True,
            timeout=30,
            check=False,
        )
    return _executed(project, build, build.parent / "alone.json")


def _make_plain(project: Path, build: Path) -> None:
    run(
        [
            "make",
            "-C",
            project,
            "tests",
            f"BUILD_DIR={build}",
            "CC=gcc",
            f"CFLAGS={FLAGS}",
            "LDFLAGS=--coverage",
        ]
    )


def _covguard_run(project: Path, config: str, tmp: Path) -> api.Outcome:
    settings = load_settings(
        project / config,
        overrides={"work_dir": str(tmp / "work"), "output_dir": str(tmp / "out"), "report.gcovr": []},
    )
    return api.run(settings)


def _per_test(outcome: api.Outcome) -> dict[str, Lines]:
    """(file, line) each test executed, in covguard's per-test coverage."""
    assert outcome.analysis is not None
    lines = outcome.analysis.coverage.lines
    lines = lines[lines["count"] > 0]
    out: dict[str, Lines] = {}
    for case in outcome.results.cases:
        rows = (
            lines[lines["test"].astype(str) == case.coverage_unit] if case.coverage_unit else lines.iloc[0:0]
        )
        out[case.test] = set(zip(rows["file"].astype(str), rows["line"].astype(int), strict=True))
    return out


def _totals_equal_gcovr(outcome: api.Outcome, project: Path, build: Path) -> None:
    """covguard's merged per-test totals equal gcovr's on a plain run of the whole suite."""
    assert outcome.analysis is not None
    ours = outcome.analysis.coverage.file_totals()
    summary: Any = _gcovr(project, build, build.parent / "summary.json", "--json-summary")
    theirs = {f["filename"]: f for f in summary["files"]}
    assert set(theirs) == set(ours.index)
    for file, row in ours.iterrows():
        g = theirs[str(file)]
        assert (row["lines"], row["lines_covered"]) == (g["line_total"], g["line_covered"]), file
        assert (row["branches"], row["branches_covered"]) == (g["branch_total"], g["branch_covered"]), file
        assert (row["functions"], row["functions_covered"]) == (g["function_total"], g["function_covered"]), (
            file
        )


def _findings(outcome: api.Outcome) -> dict[str, object]:
    doc: dict[str, object] = json.loads(outcome.outputs["findings"].read_text())
    return doc


def _tests(outcome: api.Outcome) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {c.test: (c.status, c.coverage, c.verifies) for c in outcome.results.cases}


def _hollow(outcome: api.Outcome) -> list[str]:
    doc = _findings(outcome)
    return sorted(str(f.get("test")) for f in doc["findings"] if f["kind"] == "hollow_verification")  # type: ignore[attr-defined]


def _unattached(outcome: api.Outcome) -> list[tuple[str, int, str]]:
    doc = _findings(outcome)
    return [
        (str(f["file"]), int(f["line"]), str(f["requirement"]))
        for f in doc["findings"]  # type: ignore[attr-defined]
        if f["kind"] == "unattached_verifies"
    ]


ALARM = {("src/thermo.c", n) for n in (23, 25, 26)}  # thermo_alarm up to its "return 1"
TO_F = {("src/thermo.c", n) for n in (16, 18, 19)}


# ---------------------------------------------------------------------------------------------
# exit-status programs and configured invocations


@pytest.mark.slow
def test_invocations_arguments_stdin_env_and_folder(tmp_path: Path) -> None:
    require("gcc", "make", "gcov")
    project = _project(tmp_path)
    outcome = _covguard_run(project, "covguard.toml", tmp_path)
    assert _tests(outcome) == {
        "plain_ok": ("passed", "complete", ()),  # a test executable that prints nothing
        "clamp_table": ("passed", "complete", ("THERMO-1",)),
        "to_f_via_helper": ("passed", "complete", ("THERMO-2",)),
        "hollow_alarm": ("passed", "complete", ("THERMO-3",)),
        "alarm_wrong": ("failed", "complete", ("THERMO-3",)),
        "crash": ("error", "incomplete", ("THERMO-1",)),
        "alarm_env": ("passed", "complete", ("THERMO-3",)),
        "not_ready": ("skipped", "none", ("THERMO-3",)),
    }
    by_id = {c.test: c for c in outcome.results.cases}
    assert by_id["crash"].message == "killed by SIGSEGV"
    assert by_id["alarm_wrong"].message == "exited with status 1"
    assert (by_id["hollow_alarm"].file, by_id["hollow_alarm"].line) == ("covguard.toml", 27)
    assert _hollow(outcome) == ["hollow_alarm"]
    doc = _findings(outcome)
    tests = {t["id"]: t for t in doc["tests"]}  # type: ignore[attr-defined]
    assert tests["alarm_env"]["verifies"] == ["THERMO-3"]
    junit = outcome.outputs["junit"].read_text()
    assert 'name="requirement" value="THERMO-2"' in junit

    # the truth: each invocation run alone in a plain gcc --coverage build, read by gcovr
    build = tmp_path / "plain" / "b"
    _make_plain(project, build)
    prog = build / "tests" / "thermo_cases"
    data = project / "tests" / "data"
    alone = {
        "plain_ok": _alone(project, build, [build / "tests" / "plain_ok"]),
        "clamp_table": _alone(project, build, [prog, "check", "clamp"], stdin=data / "clamp.txt"),
        "to_f_via_helper": _alone(project, build, [prog, "check", "to_f"], stdin=data / "to_f.txt"),
        "hollow_alarm": _alone(project, build, [prog, "check", "clamp"], stdin=data / "clamp.txt"),
        "alarm_wrong": _alone(project, build, [prog, "check", "alarm"], stdin=data / "alarm_wrong.txt"),
        "crash": _alone(project, build, [prog, "check", "crash"], stdin=data / "crash.txt"),
        "alarm_env": _alone(project, build, [prog, "alarm_env"], cwd=data, env={"THERMO_LIMIT": "40"}),
        "not_ready": set(),
    }
    assert _per_test(outcome) == alone
    # and the truth is not trivial: the helper reaches its requirement's code, the hollow test does not
    assert alone["to_f_via_helper"] >= TO_F
    assert not ALARM & alone["hollow_alarm"]
    assert alone["alarm_env"] >= ALARM  # the environment and the folder reached the program

    # totals: the whole suite run plainly (accumulating), against gcovr
    for gcda in build.rglob("*.gcda"):
        gcda.unlink()
    env = _plain_env()
    subprocess.run([build / "tests" / "plain_ok"], env=env, check=True)
    runs = [
        ("clamp", "clamp.txt"),
        ("to_f", "to_f.txt"),
        ("clamp", "clamp.txt"),
        ("alarm", "alarm_wrong.txt"),
    ]
    for fn, stdin in [*runs, ("crash", "crash.txt")]:
        with (data / stdin).open("rb") as given:
            subprocess.run([prog, "check", fn], stdin=given, env=env, check=False, capture_output=True)
    subprocess.run([prog, "alarm_env"], cwd=data, env={**env, "THERMO_LIMIT": "40"}, check=True)
    _totals_equal_gcovr(outcome, project, build)


# ---------------------------------------------------------------------------------------------
# custom list/run runner, @verifies in a .txt definition file


@pytest.mark.slow
def test_custom_runner_one_process_per_case(tmp_path: Path) -> None:
    require("gcc", "make", "gcov")
    project = _project(tmp_path)
    cases_txt = project / "tests" / "cases.txt"
    stray = len(cases_txt.read_text().splitlines()) + 2
    with cases_txt.open("a") as f:  # a tag whose case was removed: above no case
        f.write("\n# @verifies THERMO-2\n\n// the end\n")
    outcome = _covguard_run(project, "runner.toml", tmp_path)
    assert _unattached(outcome) == [("tests/cases.txt", stray, "THERMO-2")]
    assert _tests(outcome) == {
        "thermo::clamp_limits": ("passed", "complete", ("THERMO-1",)),  # '#' comment above
        "thermo::to_f_via_helper": ("passed", "complete", ("THERMO-2",)),  # '//' comment above
        "thermo::hollow_alarm": ("passed", "complete", ("THERMO-3",)),  # '/* */' block above
        "thermo::alarm_fails": ("failed", "complete", ("THERMO-3",)),  # trailing '#' comment
        "thermo::crashes": ("error", "incomplete", ("THERMO-1",)),
        "thermo::not_ready": ("skipped", "complete", ("THERMO-3",)),  # skip_exit_code 77
        "thermo::alarm_env": ("passed", "complete", ("THERMO-3",)),
        "thermo::prints_ok": ("failed", "complete", ("THERMO-2",)),  # from the config's verifies table
        "thermo::rejects_bad_input": ("failed", "complete", ()),
    }
    where = {c.test: (c.file, c.line) for c in outcome.results.cases}
    assert where["thermo::hollow_alarm"] == ("tests/cases.txt", 11)
    assert where["thermo::prints_ok"] == ("tests/cases.txt", 21)
    assert _hollow(outcome) == ["thermo::hollow_alarm"]

    build = tmp_path / "plain" / "b"
    _make_plain(project, build)
    prog = build / "tests" / "thermo_cases"
    data = project / "tests" / "data"
    cases = subprocess.run([prog, "--list"], capture_output=True, text=True, check=True).stdout.split()
    alone = {
        f"thermo::{case}": _alone(project, build, [prog, case], cwd=data, env={"THERMO_LIMIT": "40"})
        for case in cases
    }
    assert _per_test(outcome) == alone
    assert alone["thermo::to_f_via_helper"] >= TO_F
    assert not ALARM & alone["thermo::hollow_alarm"]
    assert alone["thermo::crashes"] == set()  # killed: libgcov never wrote its data

    for gcda in build.rglob("*.gcda"):
        gcda.unlink()
    for case in cases:
        subprocess.run(
            [prog, case],
            cwd=data,
            env={**_plain_env(), "THERMO_LIMIT": "40"},
            capture_output=True,
            check=False,
        )
    _totals_equal_gcovr(outcome, project, build)


# ---------------------------------------------------------------------------------------------
# CTest


def _ctest_statuses(build: Path) -> dict[str, str]:
    """ctest's own verdict of every test, from its JUnit output."""
    subprocess.run(
        ["ctest", "--output-junit", "junit.xml"],
        cwd=build,
        env=_plain_env(),
        capture_output=True,
        check=False,
    )
    root = ET.parse(build / "junit.xml").getroot()
    return {str(t.get("name")): str(t.get("status")) for t in root.iter("testcase")}


@pytest.mark.slow
def test_ctest_tests_run_as_ctest_runs_them(tmp_path: Path) -> None:
    require("gcc", "gcov", "cmake", "ctest", "ninja")
    project = _project(tmp_path)
    cmake_lists = project / "CMakeLists.txt"
    text = cmake_lists.read_text()
    # a tag above no add_test (above a plain command): reported, never dropped in silence
    cmake_lists.write_text(text + '\n# @verifies THERMO-3\nmessage(STATUS "thermo configured")\n')
    stray = len(text.splitlines()) + 2
    outcome = _covguard_run(project, "ctest.toml", tmp_path)
    assert _unattached(outcome) == [("CMakeLists.txt", stray, "THERMO-3")]
    expected = {
        "clamp_limits": ("passed", "complete", ("THERMO-1",)),
        "to_f_via_helper": ("passed", "complete", ("THERMO-2",)),
        "hollow_alarm": ("passed", "complete", ("THERMO-3",)),
        "alarm_fails": ("failed", "complete", ("THERMO-3",)),
        "crashes": ("error", "incomplete", ("THERMO-1",)),
        "not_ready": ("skipped", "none", ("THERMO-3",)),  # DISABLED
        "alarm_env": ("passed", "complete", ("THERMO-3",)),  # ENVIRONMENT, WORKING_DIRECTORY
        "prints_ok": ("passed", "complete", ("THERMO-2",)),  # PASS_REGULAR_EXPRESSION over exit 3
        "prints_no_error": ("failed", "complete", ()),  # FAIL_REGULAR_EXPRESSION
        "rejects_bad_input": ("passed", "complete", ("THERMO-1",)),  # WILL_FAIL
    }
    harness = {  # a harness executable under CTest yields its test cases
        "harness::clamps_high": ("passed", "complete", ("THERMO-1",)),
        "harness::converts_via_helper": ("passed", "complete", ("THERMO-2",)),
        "harness::alarm_wrong": ("failed", "complete", ("THERMO-3",)),
    }
    assert _tests(outcome) == {**expected, **harness}
    where = {c.test: (c.file, c.line) for c in outcome.results.cases}
    assert where["hollow_alarm"] == ("CMakeLists.txt", 16)
    assert _hollow(outcome) == ["hollow_alarm"]

    # the truth: a plain CMake build with --coverage; each test run alone by ctest itself
    build = tmp_path / "plain" / "b"
    c_flags = FLAGS.replace("-std=c99 ", "")
    run(["cmake", "-S", project, "-B", build, "-G", "Ninja", f"-DCMAKE_C_FLAGS={c_flags}",
         "-DCMAKE_EXE_LINKER_FLAGS=--coverage", f"-DCOVGUARD_RUNTIME={RUNTIME}"])  # fmt: skip
    run(["cmake", "--build", build])
    alone: dict[str, Lines] = {}
    for name in expected:
        for gcda in build.rglob("*.gcda"):
            gcda.unlink()
        subprocess.run(
            ["ctest", "-R", f"^{name}$"], cwd=build, env=_plain_env(), capture_output=True, check=False
        )
        alone[name] = _executed(project, build, build.parent / "alone.json")
    for n, case in enumerate(harness, start=1):  # each harness case built alone (-DCASE=n) and run
        one = tmp_path / "plain" / f"case{n}"
        one.mkdir()
        objs: list[str | Path] = []
        for src in ("tests/thermo_harness.c", "tests/helper.c", "src/thermo.c"):
            obj = one / (Path(src).stem + ".o")
            includes: list[str | Path] = ["-I", project / "src", "-I", project / "tests", "-I", RUNTIME]
            run(["gcc", *FLAGS.split(), f"-DCASE={n}", *includes, "-c", project / src, "-o", obj])
            objs.append(obj)
        run(["gcc", "--coverage", *objs, "-o", one / "harness"])
        subprocess.run([one / "harness"], cwd=one, env=_plain_env(), capture_output=True, check=False)
        alone[case] = _executed(project, one, one / "alone.json")
    assert _per_test(outcome) == alone
    assert alone["to_f_via_helper"] >= TO_F
    assert not ALARM & alone["hollow_alarm"]
    assert alone["alarm_env"] >= ALARM
    assert alone["not_ready"] == set()
    assert alone["harness::converts_via_helper"] >= TO_F
    assert not TO_F & alone["harness::clamps_high"]  # per case, not per executable

    # statuses against ctest's own (a crash is "fail" to ctest, an error to covguard)
    theirs = _ctest_statuses(build)  # runs the whole suite, accumulating coverage
    ctest_word = {"passed": "run", "failed": "fail", "error": "fail", "skipped": "disabled"}
    ours = {name: ctest_word[s] for name, (s, _, _) in expected.items()}
    assert {**ours, "harness": "fail"} == theirs  # one of its cases fails
    _totals_equal_gcovr(outcome, project, build)


# ---------------------------------------------------------------------------------------------
# the verdict, the definitions and the configuration (no compiler needed)


def test_judge_follows_ctest_semantics() -> None:
    base = Invocation(name="t", program="p")
    assert judge(base, 0, None, "").status == "passed"
    assert judge(base, 1, None, "").status == "failed"
    assert judge(base, None, "timed out after 2 s", "").status == "error"
    assert judge(base, -11, None, "").message == "killed by SIGSEGV"
    assert judge(Invocation(name="t", program="p", will_fail=True), 1, None, "").status == "passed"
    assert judge(Invocation(name="t", program="p", will_fail=True), 0, None, "").status == "failed"
    assert judge(Invocation(name="t", program="p", will_fail=True), -6, None, "").status == "error"
    passing = Invocation(name="t", program="p", pass_regex=("all good",))
    assert judge(passing, 5, None, "so: all good\n").status == "passed"
    assert judge(passing, 0, None, "nothing").status == "failed"
    failing = Invocation(name="t", program="p", fail_regex=("^ERROR",))
    assert judge(failing, 0, None, "x\nERROR: y").status == "failed"
    assert judge(Invocation(name="t", program="p", skip_exit_code=77), 77, None, "").status == "skipped"
    assert (
        judge(Invocation(name="t", program="p", skip_regex=("SKIP",)), 0, None, "SKIP me").status == "skipped"
    )


def test_definitions_in_every_comment_syntax() -> None:
    text = (
        "# @verifies A-1\n"
        "first: x\n"
        "\n"
        "// @verifies A-2, A-3\n"
        "second = 1\n"
        "/* @verifies A-4\n"
        "   more text */\n"
        "third\n"
        "fourth  # @verifies A-5\n"
        "# @verifies A-6\n"
        "\n"
        "fifth: x  # not a tag: a blank line separates it\n"
        "url = 'http://example.com/first' # first is not defined here\n"
    )
    code, comment = split_comments(text)
    from covguard.trace.definitions import DefinitionFile

    d = DefinitionFile(path="cases.txt", code=code, comment=comment)
    pattern = r"[A-Z]+-[0-9]+"
    found = {name: find_case([d], name) for name in ("first", "second", "third", "fourth", "fifth", "sixth")}
    assert {k: v[1] if v else None for k, v in found.items()} == {
        "first": 2, "second": 5, "third": 8, "fourth": 9, "fifth": 12, "sixth": None,
    }  # fmt: skip
    assert verifies_at(d, 2, pattern) == ("A-1",)
    assert verifies_at(d, 5, pattern) == ("A-2", "A-3")
    assert verifies_at(d, 8, pattern) == ("A-4",)
    assert verifies_at(d, 9, pattern) == ("A-5",)
    assert verifies_at(d, 12, pattern) == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "a"}, "needs at least a 'name' and a 'program'"),
        ({"name": "a", "program": "p", "argz": []}, "unknown key 'argz'"),
        ({"name": "a", "program": "p", "args": "x y"}, None),  # one string: one argument
        ({"name": "a", "program": "p", "args": [1]}, "must be a string"),
        ({"name": "../../etc", "program": "p"}, "not a valid test name"),
        ({"name": "a", "program": "p", "env": {"A B": "x"}}, "invalid variable name"),
        ({"name": "a", "program": "p", "timeout": -1}, "between 0 and 86400"),
        ({"name": "a", "program": "p", "skip_exit_code": 300}, "between 0 and 255"),
        ({"name": "a", "program": "p", "pass_regex": ["("]}, "not a valid regular expression"),
        ({"name": "a", "program": "p", "verifies": ["A-1 A-2"]}, "one requirement id"),
        ({"name": "a", "program": "p", "will_fail": "yes"}, "true or false"),
        ({"name": "a", "program": "p", "format": "unity"}, "must be one of auto, exit-status"),
    ],
)
def test_invocation_tables_are_checked(table: dict[str, object], message: str | None) -> None:
    if message is None:
        assert build_invocations([table])[0].args == ("x y",)
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build_invocations([table])


def test_runner_tables_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"does not use \{case\}"):
        build_runners([{"name": "r", "list": ["r", "--list"], "run": ["r"]}])
    with pytest.raises(ConfigError, match="two runners"):
        build_runners([{"name": "r", "list": ["r"], "run": ["r", "{case}"]}] * 2)
    with pytest.raises(ConfigError, match="two invocations"):
        build_invocations([{"name": "a", "program": "p"}] * 2)


def test_paths_outside_the_project_are_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "covguard.toml").write_text(
        '[build]\ncommand = "true"\n[test]\nexecutables = []\n'
        '[[test.invocations]]\nname = "a"\nprogram = "/bin/true"\nstdin = "/etc/passwd"\n'
    )
    (project / "requirements.csv").write_text("id,title,safety_class\nA-1,x,A\n")
    proc = covguard("test", cwd=project)
    assert proc.returncode == 2, proc.stderr
    assert "stdin' /etc/passwd is outside the project root" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_hostile_runner_listing_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "covguard.toml").write_text(
        '[build]\ncommand = "true"\n[test]\nexecutables = []\n'
        '[[test.runners]]\nname = "r"\nlist = ["/bin/sh", "-c", "printf \'a\\\\nb\\\\na\\\\n\'"]\n'
        'run = ["/bin/true", "{case}"]\n'
    )
    proc = covguard("test", cwd=project)
    assert proc.returncode == 3, proc.stderr
    assert "lists case 'a' twice (line 3)" in proc.stderr
    assert "Traceback" not in proc.stderr


def _bare_project(tmp_path: Path, config: str) -> Path:
    project = tmp_path / "p"
    project.mkdir()
    (project / "covguard.toml").write_text('[build]\ncommand = "true"\n[test]\nexecutables = []\n' + config)
    return project


def test_processes_get_arguments_stdin_env_folder_and_timeouts(tmp_path: Path) -> None:
    """The process mechanics with the real /bin/sh: no compiler needed."""
    from covguard.run.runner import run_tests

    project = _bare_project(
        tmp_path,
        """
[[test.invocations]]
name = "reads_stdin"
program = "/bin/sh"
args = ["-c", "read x; test \\"$x\\" = hello"]
stdin = "in.txt"

[[test.invocations]]
name = "env_and_folder"
program = "/bin/sh"
args = ["-c", "test \\"$FOO\\" = bar && test -f marker"]
env = { FOO = "bar" }
cwd = "data"

[[test.invocations]]
name = "hangs"
program = "/bin/sh"
args = ["-c", "sleep 30"]
timeout = 0.5

[[test.invocations]]
name = "exits_3"
program = "/bin/sh"
args = ["-c", "exit 3"]
""",
    )
    (project / "in.txt").write_text("hello\n")
    (project / "data").mkdir()
    (project / "data" / "marker").write_text("")
    settings = load_settings(project / "covguard.toml")
    result = run_tests(run_options(settings))
    got = {c.test: (c.status, c.coverage, c.message) for c in result.cases}
    assert got == {
        "reads_stdin": ("passed", "complete", ""),
        "env_and_folder": ("passed", "complete", ""),
        "hangs": ("error", "incomplete", "timed out after 0.5 s (hung); killed with its process group"),
        "exits_3": ("failed", "complete", "exited with status 3"),
    }
    assert [r.label for r in result.runs if r.crashed] == ["hangs"]


def test_a_ctest_working_directory_outside_the_project_is_refused(tmp_path: Path) -> None:
    """A hand-written (hostile) CTest file, read by the real ctest."""
    require("ctest")
    from covguard.run.runner import run_tests

    project = _bare_project(tmp_path, 'ctest = "ctest-dir"\n')
    (project / "ctest-dir").mkdir()
    (project / "ctest-dir" / "CTestTestfile.cmake").write_text(
        'add_test(evil "/bin/true")\nset_tests_properties(evil PROPERTIES WORKING_DIRECTORY "/etc")\n'
        'add_test(fine "/bin/true")\n'
    )
    settings = load_settings(project / "covguard.toml")
    result = run_tests(run_options(settings))
    got = {c.test: (c.status, c.message) for c in result.cases}
    # ctest's own selection
    excluded = run_tests(run_options(settings.with_overrides(test_ctest_args=("-E", "evil"))))
    assert [c.test for c in excluded.cases] == ["fine"]
    assert got == {
        "fine": ("passed", ""),
        "evil": ("error", "its WORKING_DIRECTORY /etc is outside the project root and the work folder"),
    }


def test_runner_verifies_for_an_unknown_case_is_an_error(tmp_path: Path) -> None:
    project = _bare_project(
        tmp_path,
        '[[test.runners]]\nname = "r"\nlist = ["/bin/sh", "-c", "echo a; echo b"]\n'
        'run = ["/bin/true", "{case}"]\nverifies = { c = ["REQ-1"] }\n',
    )
    proc = covguard("test", cwd=project)
    assert proc.returncode == 2, proc.stderr
    assert "'verifies' names case(s) the list command does not print: 'c'" in proc.stderr


def test_exit_status_format_ignores_output_that_looks_like_unity(tmp_path: Path) -> None:
    from covguard.run.runner import run_tests

    project = _bare_project(tmp_path, "")
    script = project / "bin" / "looks_like_unity"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho 'x.c:1:test_a:PASS'\necho '1 Tests 0 Failures 0 Ignored'\nexit 1\n")
    script.chmod(0o755)
    settings = load_settings(
        project / "covguard.toml", overrides={"test.executables": ["bin/*"], "test.format": "exit-status"}
    )
    result = run_tests(run_options(settings))
    assert [(c.test, c.status, c.message) for c in result.cases] == [
        (
            "looks_like_unity",
            "failed",
            "exited with status 1 (judged by its exit status: test.format is exit-status)",
        )
    ]
    # read as Unity: one passing case
    auto = run_tests(run_options(settings.with_overrides(test_format="auto")))
    assert [(c.test, c.status) for c in auto.cases if not c.name.startswith("<")] == [
        ("looks_like_unity::test_a", "passed")
    ]


def test_a_unity_program_under_ctest_yields_its_cases(tmp_path: Path) -> None:
    require("ctest")
    from covguard.run.runner import run_tests

    project = _bare_project(tmp_path, 'ctest = "ctest-dir"\n')
    (project / "ctest-dir").mkdir()
    script = project / "unity.sh"
    script.write_text(
        "#!/bin/sh\necho 't.c:3:test_a:PASS'\necho 't.c:9:test_b:FAIL: Expected 1 Was 2'\necho '-----'\n"
        "echo '2 Tests 1 Failures 0 Ignored'\necho FAIL\nexit 1\n"
    )
    (project / "ctest-dir" / "CTestTestfile.cmake").write_text(f'add_test(suite "/bin/sh" "{script}")\n')
    result = run_tests(run_options(load_settings(project / "covguard.toml")))
    got = {c.test: (c.status, c.message) for c in result.cases}
    assert got == {"suite::test_a": ("passed", ""), "suite::test_b": ("failed", "Expected 1 Was 2")}
    assert [r.format for r in result.runs] == ["unity"]
