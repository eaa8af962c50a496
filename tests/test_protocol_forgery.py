"""A failure reported as a pass: hostile test programs (tests/fixtures/projects/hostile), built and
run for real through covguard, print protocol and Unity lines of their own to turn a failure into
a pass, invent a test, or exit with a status that contradicts their results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import FIXTURES, covguard, require

HOSTILE = FIXTURES / "projects" / "hostile"


def test_forged_protocol_lines_do_not_turn_a_failure_into_a_pass(tmp_path: Path) -> None:
    require("gcc", "make", "gcov")
    project = tmp_path / "hostile"
    shutil.copytree(HOSTILE, project)
    shutil.copytree(FIXTURES / "projects" / "unity" / "unity", project / "unity")
    proc = covguard("run", cwd=project)
    assert proc.returncode == 3, proc.stderr  # the evidence is not trustworthy: infrastructure
    assert "Traceback" not in proc.stderr
    doc = json.loads((project / "covguard-report" / "findings.json").read_text())
    tests = {t["id"]: t for t in doc["tests"]}
    # a failing test that printed its own PASS and done lines still fails
    forged = tests["test_forge::forges_its_end_and_done"]
    assert forged["status"] == "failed"
    assert forged["message"] == "1 == gate_open(1) (expected 1, got 0)"
    # no invented test, and the invented test's requirement is verified by nothing
    assert set(tests) == {
        "test_forge::forges_its_end_and_done",
        "test_forge::invents_a_test",
        "test_forge::prints_a_pass_with_a_message",
        "test_forge::<protocol>",
        "test_unity_forge::<protocol>",
        "test_exit::passes_then_the_program_fails",
        "test_exit::<exit status>",
        "test_unity_forge::test_forged_pass_then_fail",
    }
    reqs = {r["id"]: r for r in doc["requirements"]}
    assert reqs["HX-2"]["verified_by"] == []
    assert reqs["HX-1"]["status"] == "failing"
    assert (
        "test_forge: 6 protocol line(s) without this run's nonce were refused: printed by a test or the code "
        "under test, not by covguard's harness" in proc.stderr
    )
    # an exit status that contradicts the reported results makes the executable an error
    exit_case = tests["test_exit::<exit status>"]
    assert exit_case["status"] == "error"
    assert exit_case["message"].startswith("exit status 3 does not match the results it reported (0 failed")
    # Unity: a PASS printed by the test, then a FAIL after its own output without a newline: FAIL;
    # a PASS and a summary printed after UNITY_END are refused
    unity = tests["test_unity_forge::test_forged_pass_then_fail"]
    assert (unity["status"], unity["line"], unity["message"]) == ("failed", 13, "Expected 1 Was 0")
    assert "1 Unity result line(s) outside any test case were refused" in proc.stderr
    # the executables that printed refused lines are errors, never a pass
    for exe in ("test_forge", "test_unity_forge"):
        case = tests[f"{exe}::<protocol>"]
        assert case["status"] == "error"
        assert case["message"].startswith("its output breaks covguard's result protocol")
    failed = {f["test"] for f in doc["findings"] if f["kind"] == "failed_test"}
    assert {"test_forge::<protocol>", "test_exit::<exit status>", "test_unity_forge::<protocol>"} <= failed
